from tests.factories import make_user


def test_pages_are_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "忘记密码" in html


def test_switch_to_english_sticks_in_the_browser(client):
    response = client.post("/language", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Forgot your password?" in html


def test_language_choice_sticks_to_the_account(client, app, login):
    user = make_user("bureau")
    login(user)
    client.post("/language", data={"locale": "en"})
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": "Secret-pass-2026"})
    assert 'lang="en"' in other.get("/").get_data(as_text=True)


def test_unknown_language_is_refused(client):
    assert client.post("/language", data={"locale": "xx"}).status_code == 400


def test_language_switch_does_not_redirect_elsewhere(client):
    response = client.post("/language", data={"locale": "en", "next": "https://evil.example/"})
    assert "evil.example" not in response.headers["Location"]

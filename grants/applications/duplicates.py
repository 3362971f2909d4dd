"""Duplicate check (查重): applications whose title or summary nearly repeats another's.

Chinese has no spaces between words, so texts are compared as sets of character bigrams
of their normalised form (NFKC folds full-width to half-width, then lower case, then
punctuation and whitespace removed). Two texts are as similar as the cosine of their
bigram sets, ``|A ∩ B| / sqrt(|A| · |B|)``: 1.0 for the same text, and 0.88 for
"中药提取自动化关键技术研究" against "中药提取自动化关键技术的研究". Candidate pairs come
from an inverted index (bigram → texts) of each text's rarest bigrams, as many as the
threshold requires (prefix filtering), and a length filter; only candidates are scored,
so common bigrams such as 技术 or 研究 never make every pair a candidate.

An application is compared with the other applications of its call and with those of
every call of an earlier year; drafts and withdrawn applications take no part.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from grants.applications.models import Application, ApplicationState
from grants.extensions import db
from grants.programmes.models import Call

IGNORED_STATES = (ApplicationState.DRAFT, ApplicationState.WITHDRAWN)
DEFAULT_THRESHOLDS = {"title": 0.8, "summary": 0.7}
FIELDS = ("title", "summary")


def normalise(text: str | None) -> str:
    """Full-width to half-width, lower case, only letters and digits kept."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def shingles(text: str | None, n: int = 2) -> frozenset[str]:
    """The character n-grams of the normalised text (the text itself when shorter than n)."""
    norm = normalise(text)
    if len(norm) < n:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


def similarity(a: str | None, b: str | None) -> float:
    """Cosine similarity of the bigram sets of two texts, from 0 to 1."""
    return _cosine(shingles(a), shingles(b))


def thresholds(title: float | None = None, summary: float | None = None) -> dict[str, float]:
    """The thresholds in force: the arguments, else the app's settings, else 0.8 and 0.7."""
    config = current_app.config
    return {
        "title": title
        if title is not None
        else float(config.get("DUPLICATE_TITLE_THRESHOLD", DEFAULT_THRESHOLDS["title"])),
        "summary": summary
        if summary is not None
        else float(config.get("DUPLICATE_SUMMARY_THRESHOLD", DEFAULT_THRESHOLDS["summary"])),
    }


@dataclass(frozen=True)
class _Text:
    id: int
    call_id: int
    year: int
    title: frozenset[str]
    summary: frozenset[str]


@dataclass
class DuplicatePair:
    """Two applications (``application`` in the call checked, ``other`` the same call or earlier)."""

    application: Application
    other: Application
    title_similarity: float
    summary_similarity: float
    thresholds: dict[str, float]

    @property
    def similarity(self) -> float:
        return max(self.title_similarity, self.summary_similarity)

    @property
    def title_matches(self) -> bool:
        return self.title_similarity >= self.thresholds["title"]

    @property
    def summary_matches(self) -> bool:
        return self.summary_similarity >= self.thresholds["summary"]

    @property
    def same_call(self) -> bool:
        return self.application.call_id == self.other.call_id


def _texts(call: Call) -> list[_Text]:
    """Titles and summaries of the call's applications and of earlier years' (no drafts)."""
    rows = db.session.execute(
        sa.select(
            Application.id, Application.call_id, Call.year, Application.title, Application.summary
        )
        .join(Call, Application.call_id == Call.id)
        .where(
            sa.or_(Application.call_id == call.id, Call.year < call.year),
            Application.state.not_in(IGNORED_STATES),
        )
        .order_by(Application.id)
    ).all()
    return [_Text(r.id, r.call_id, r.year, shingles(r.title), shingles(r.summary)) for r in rows]


def _cosine(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


def _prefix_length(size: int, threshold: float) -> int:
    """How many of a set's rarest bigrams to index so that no pair above ``threshold`` is missed.

    Two sets with cosine ≥ t share at least ⌈t²·|A|⌉ bigrams, so under one global order
    their prefixes of length |A| − ⌈t²·|A|⌉ + 1 have a bigram in common (prefix filtering).
    """
    return max(1, size - math.ceil(threshold * threshold * size - 1e-9) + 1)


def _candidates(
    queries: list[_Text], corpus: list[_Text], field: str, threshold: float, same_call_once: bool
) -> set[tuple[int, int]]:
    """The (query, other) pairs whose ``field`` may reach ``threshold``, from an inverted index of prefixes.

    Bigrams are ordered rarest first, so the indexed prefixes hold the rare bigrams and
    the posting lists stay short. A candidate is dropped as soon as the bigrams left
    after a shared one cannot bring the overlap up to what the threshold needs
    (positional filter), or when the sizes alone rule the pair out (length filter).
    """
    texts = {t.id: t for t in (*corpus, *queries)}
    frequency = Counter(g for text in texts.values() for g in getattr(text, field))
    rank = {g: i for i, g in enumerate(sorted(frequency, key=frequency.__getitem__))}
    prefixes: dict[int, list[str]] = {}
    for text in texts.values():
        tokens = sorted(getattr(text, field), key=rank.__getitem__)
        prefixes[text.id] = tokens[: _prefix_length(len(tokens), threshold)]

    index: dict[str, list[tuple[_Text, int, int]]] = defaultdict(list)
    for text in corpus:
        size = len(getattr(text, field))
        for position, gram in enumerate(prefixes[text.id]):
            index[gram].append((text, position, size))
    squared = threshold * threshold
    pairs = set()
    for query in queries:
        size = len(getattr(query, field))
        low, high = squared * size, size / squared if squared else math.inf
        overlap: dict[int, int] = {}
        for position, gram in enumerate(prefixes[query.id]):
            rest = size - position - 1
            for other, other_position, other_size in index.get(gram, ()):
                if not low <= other_size <= high:
                    continue  # length filter
                seen = overlap.get(other.id, 0)
                if seen < 0:
                    continue
                bound = seen + 1 + min(rest, other_size - other_position - 1)
                if bound >= threshold * math.sqrt(size * other_size) - 1e-9:
                    overlap[other.id] = seen + 1
                else:
                    overlap[other.id] = -1  # positional filter
        for other_id, seen in overlap.items():
            if seen <= 0 or other_id == query.id:
                continue
            if same_call_once and texts[other_id].call_id == query.call_id and other_id < query.id:
                continue  # the pair is found with the other as the query
            pairs.add((query.id, other_id))
    return pairs


def _scored_pairs(
    queries: list[_Text], corpus: list[_Text], limits: dict[str, float], same_call_once: bool
) -> dict[tuple[int, int], dict[str, float]]:
    """Similarity of title and summary of every pair where either reaches its threshold.

    One query is compared with the corpus directly (building an index would cost more);
    many queries take their candidates from :func:`_candidates`.
    """
    by_id = {t.id: t for t in (*corpus, *queries)}
    if len(queries) == 1:
        candidates = {(queries[0].id, t.id) for t in corpus if t.id != queries[0].id}
    else:
        candidates = set()
        for field in FIELDS:
            candidates |= _candidates(queries, corpus, field, limits[field], same_call_once)
    scored = {}
    for a, b in candidates:
        scores = {
            field: _cosine(getattr(by_id[a], field), getattr(by_id[b], field)) for field in FIELDS
        }
        if any(scores[f] >= limits[f] for f in FIELDS):
            scored[(a, b)] = scores
    return scored


def _pairs(
    queries: list[_Text], corpus: list[_Text], limits: dict[str, float], same_call_once: bool
) -> list[DuplicatePair]:
    scored = _scored_pairs(queries, corpus, limits, same_call_once)
    ids = {i for pair in scored for i in pair}
    loaded = (
        {
            a.id: a
            for a in db.session.scalars(
                sa.select(Application)
                .where(Application.id.in_(ids))
                .options(
                    joinedload(Application.organisation),
                    joinedload(Application.call),
                    joinedload(Application.cluster),
                )
            )
        }
        if ids
        else {}
    )
    pairs = [
        DuplicatePair(loaded[a], loaded[b], s["title"], s["summary"], limits)
        for (a, b), s in scored.items()
    ]
    pairs.sort(key=lambda p: (-p.similarity, p.application.id, p.other.id))
    return pairs


def duplicate_pairs(
    call: Call, *, title_threshold: float | None = None, summary_threshold: float | None = None
) -> list[DuplicatePair]:
    """Pairs of the call's applications with a near-identical title or summary, in the call or earlier years.

    Each pair within the call appears once; a pair with an earlier year's application
    has the call's application first. Most similar first.
    """
    limits = thresholds(title_threshold, summary_threshold)
    corpus = _texts(call)
    queries = [t for t in corpus if t.call_id == call.id]
    return _pairs(queries, corpus, limits, same_call_once=True)


def near_duplicates(
    application: Application,
    *,
    title_threshold: float | None = None,
    summary_threshold: float | None = None,
) -> list[DuplicatePair]:
    """The applications of the same call or an earlier year that nearly repeat this one."""
    if application.id is None:
        return []
    limits = thresholds(title_threshold, summary_threshold)
    corpus = _texts(application.call)
    query = next((t for t in corpus if t.id == application.id), None)
    if query is None:  # a draft or withdrawn application: compare it all the same
        query = _Text(
            application.id,
            application.call_id,
            application.call.year,
            shingles(application.title),
            shingles(application.summary),
        )
    return _pairs([query], corpus, limits, same_call_once=False)

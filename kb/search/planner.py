"""Query planning, shared by every backend: what was typed becomes concepts, each with the ways it may match.

A *concept* is one thing the person asked for: a word (its stem), a code (as typed, its key, its spaced
form), a phrase, a prefix, or a group of synonyms. Each concept lists its *clauses*, the alternatives that
satisfy it, with a weight (the form typed weighs most). Backends score a page by the concepts it matches;
a page needs all required concepts (phrases, ``+word``) and at least ``min_match`` of the others, so a page
lacking one word of a question still appears, lower (see ``ranking.coverage_factor``). A long pasted text
becomes a "find documents like this" plan over its rarest words (``keep_rarest``).

Words typed next to each other also make *pairs*: a page where they stand together, as typed, scores a
little more ("ёмкие HDD диски" over a page that has the three words apart). Pairs never decide whether a page
matches, only its order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from kb.search import codes
from kb.search.analysis import analyze, is_code, mixed_analyzer
from kb.search.query import parse

#: Weights of the alternatives of a concept: the form typed counts most.
TYPED, VARIANT, SYNONYM, APART = 1.0, 0.9, 0.85, 0.7
#: At most this many required words, phrases, prefixes and exclusions each: the work per query stays bounded.
MAX_STRICT = 8
#: More concepts than this and the text is read as "documents like this" rather than as a question.
LIKE_THIS_CONCEPTS = 12
#: How many of a long text's words a "like this" search keeps: the rarest in the library.
LIKE_THIS_KEEP = 24
#: Share of the concepts a page needs in a "like this" search.
LIKE_THIS_SHARE = 0.2
#: At most this many pairs of neighbouring words per query.
MAX_PAIRS = 8


@dataclass(frozen=True)
class Clause:
    """One way to match a concept: a term, a phrase (terms at offsets), all of some terms, or a prefix of terms."""

    terms: tuple[str, ...]
    offsets: tuple[int, ...] = (0,)
    weight: float = TYPED
    prefix: bool = False
    all_of: bool = False  # every term anywhere on the page, in any order (not a phrase)

    @property
    def phrase(self) -> bool:
        return len(self.terms) > 1 and not self.all_of


@dataclass(frozen=True)
class Concept:
    label: str  # what the person typed, for "Missing: ..."
    clauses: tuple[Clause, ...]
    required: bool = False

    @property
    def terms(self) -> frozenset[str]:
        return frozenset(t for c in self.clauses for t in c.terms)


@dataclass(frozen=True)
class QueryPlan:
    text: str
    concepts: tuple[Concept, ...] = ()
    excluded: tuple[Concept, ...] = ()
    filters: dict[str, str] = field(default_factory=dict)
    like_this: bool = False
    repeats: tuple[int, ...] = ()  # how often each concept was typed
    relaxed: bool = False  # nothing had enough of the words: any one will do (ranked by how many match)
    pairs: tuple[Clause, ...] = ()  # neighbouring words as typed: a page with them together scores more

    @property
    def empty(self) -> bool:
        return not self.concepts

    @property
    def min_match(self) -> int:
        """How many of the concepts a page must match (required ones always)."""
        return 1 if self.relaxed else min_match(len(self.concepts), self.like_this)

    def keep_rarest(self, frequency: Callable[[Iterable[str]], dict[str, int]], pages: int = 0) -> QueryPlan:
        """A "like this" plan of the ``LIKE_THIS_KEEP`` concepts that say most about the text: those the text
        repeats and the library holds rarely (tf × idf, as "more like this" searches choose), found at all.
        ``pages`` is the library's size; without it, one more than the most frequent word's count stands in."""
        optional = [c for c in self.concepts if not c.required]
        required = [c for c in self.concepts if c.required]
        counts = frequency({t for c in optional for t in c.terms})
        total = max(pages, max(counts.values(), default=0) + 1)
        repeats = dict(zip(self.concepts, self.repeats or (1,) * len(self.concepts), strict=True))

        def weight(concept: Concept) -> float:
            found = [counts.get(t, 0) for t in concept.terms if counts.get(t, 0) > 0]
            if not found:
                return 0.0
            return repeats.get(concept, 1) * math.log(1 + total / min(found))

        kept = sorted((c for c in optional if weight(c) > 0), key=weight, reverse=True)[:LIKE_THIS_KEEP]
        order = {c: i for i, c in enumerate(self.concepts)}
        concepts = sorted(required + kept, key=order.__getitem__)
        return replace(
            self, concepts=tuple(concepts), like_this=True, repeats=tuple(repeats[c] for c in concepts), pairs=()
        )


def min_match(concepts: int, like_this: bool = False) -> int:
    """Up to three words, any one of them will do (ranked by how many match); then half; "like this", a fifth."""
    if concepts <= 3:
        return min(concepts, 1)
    share = LIKE_THIS_SHARE if like_this else 0.5
    return max(1, math.ceil(concepts * share))


def plan(text: str, synonyms: Synonyms | None = None) -> QueryPlan:
    """The plan of what was typed."""
    parsed = parse(text)
    concepts = _word_concepts(parsed.words)
    if synonyms is not None:
        concepts = synonyms.apply(concepts)
    for word in parsed.required[:MAX_STRICT]:
        concepts += [replace(c, required=True) for c in _word_concepts([word])]
    concepts += [c for c in (_phrase_concept(p) for p in parsed.phrases[:MAX_STRICT]) if c is not None]
    concepts += [Concept(p + "*", (Clause((p,), prefix=True),)) for p in parsed.prefixes[:MAX_STRICT]]
    excluded = [c for c in (_phrase_concept(p) for p in parsed.excluded[:MAX_STRICT]) if c is not None]
    merged, repeats = _merge_repeats(concepts)
    return QueryPlan(text=text, concepts=tuple(merged), excluded=tuple(excluded), filters=dict(parsed.filters),
                     repeats=tuple(repeats), pairs=_pairs(parsed.words, merged))  # fmt: skip


def is_long(plan_: QueryPlan) -> bool:
    return len(plan_.concepts) > LIKE_THIS_CONCEPTS


def _merge_repeats(concepts: list[Concept]) -> tuple[list[Concept], list[int]]:
    """A word typed twice (or two forms of it) is one concept; returns the concepts and how often each came."""
    seen: dict[tuple[Clause, ...], int] = {}
    merged: list[Concept] = []
    repeats: list[int] = []
    for concept in concepts:
        key = concept.clauses
        if key in seen:
            repeats[seen[key]] += 1
            if concept.required and not merged[seen[key]].required:
                merged[seen[key]] = replace(merged[seen[key]], required=True)
            continue
        seen[key] = len(merged)
        merged.append(concept)
        repeats.append(1)
    return merged, repeats


def _word_concepts(words: list[str]) -> list[Concept]:
    """Concepts of plain typed words; a short run of letters and the number after it are one code (``HB 250``)."""
    concepts: list[Concept] = []
    at = 0
    while at < len(words):
        word = words[at]
        following = words[at + 1] if at + 1 < len(words) else ""
        if following and _spaced_code(word, following):
            concepts.append(_code_concept(f"{word} {following}", [word, following]))
            at += 2
            continue
        terms = analyze(word)
        if len(terms) == 1 and is_code(terms[0]):
            concepts.append(_code_concept(word, codes.split_letters_digits(word)))
        else:
            concepts += [Concept(word, (Clause((term,)),)) for term in terms]
        at += 1
    return concepts


def _pairs(words: list[str], concepts: list[Concept]) -> tuple[Clause, ...]:
    """Neighbouring typed words (a stop word between them keeps its place) whose terms are concepts' own."""
    if len(concepts) < 2:
        return ()
    own = {c.clauses[0].terms[0] for c in concepts if len(c.clauses[0].terms) == 1 and not c.clauses[0].prefix}
    tokens = [
        (t.text, t.pos)
        for t in mixed_analyzer()(" ".join(words), positions=True, mode="query", removestops=False)
        if not t.stopped
    ]
    pairs: list[Clause] = []
    for (first, at), (second, then) in zip(tokens, tokens[1:], strict=False):
        if first in own and second in own and first != second and then - at <= 2:
            pairs.append(Clause((first, second), (0, then - at)))
    return tuple(dict.fromkeys(pairs))[:MAX_PAIRS]


def _spaced_code(letters: str, number: str) -> bool:
    """Whether two typed words read as one code: ``HB 250``, ``гост 12.2.003``, ``dn 50``."""
    if not analyze(letters):
        return False  # a stop word: "для 50 человек"
    short = letters.isalpha() and (len(letters) <= 4 or (letters.isupper() and len(letters) <= codes.MAX_CODE_PREFIX))
    return short and codes.starts_with_digit(number) and len(number) <= 20


def _code_concept(typed: str, parts: list[str]) -> Concept:
    """A code: as typed, by its key, and as its parts standing next to each other in either script."""
    clauses: list[Clause] = []
    whole = analyze(typed.replace(" ", "-")) if " " in typed else analyze(typed)
    if len(whole) == 1:
        clauses.append(Clause((whole[0],), weight=TYPED))
    clauses.append(Clause((codes.key(typed),), weight=VARIANT))
    part_terms = [t for part in parts for t in analyze(part)]
    if len(part_terms) > 1:
        offsets = tuple(range(len(part_terms)))
        clauses.append(Clause(tuple(part_terms), offsets, weight=TYPED if " " in typed else VARIANT))
        for variant in codes.script_variants(parts[0]) if codes.is_code_prefix(parts[0]) else []:
            terms = (*analyze(variant), *part_terms[1:])
            if len(terms) == len(part_terms):
                clauses.append(Clause(terms, offsets, weight=VARIANT))
        if " " in typed:  # two words that may not be a code at all ("цены 2024", "кВт 5"): both anywhere will do
            clauses.append(Clause(tuple(part_terms), offsets, weight=APART, all_of=True))
    unique = list(dict.fromkeys(clauses))
    return Concept(typed, tuple(unique))


def _phrase_concept(phrase: str) -> Concept | None:
    """A phrase in quotes: its words at the distances typed (stop words keep their place, not a match)."""
    tokens = [
        (t.text, t.pos)
        for t in mixed_analyzer()(phrase, positions=True, mode="query", removestops=False)
        if not t.stopped
    ]
    if not tokens:
        return None
    if len(tokens) == 1:
        return Concept(phrase, (Clause((tokens[0][0],)),), required=True)
    words = tuple(text for text, _pos in tokens)
    offsets = tuple(pos - tokens[0][1] for _text, pos in tokens)
    return Concept(f'"{phrase}"', (Clause(words, offsets),), required=True)


class Synonyms:
    """Groups of equivalent words and phrases, applied to a plan: a concept (or run of concepts) that is one
    entry of a group may match any entry of that group."""

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self.groups: list[tuple[Clause, ...]] = []
        self.by_terms: dict[tuple[str, ...], int] = {}
        for group in groups:
            entries = tuple(dict.fromkeys(c for c in (_entry_clause(e) for e in group) if c is not None))
            if len({c.terms for c in entries}) < 2:
                continue
            number = len(self.groups)
            self.groups.append(entries)
            for entry in entries:
                self.by_terms.setdefault(entry.terms, number)
        self.longest = max((len(t) for t in self.by_terms), default=0)

    def apply(self, concepts: list[Concept]) -> list[Concept]:
        if not self.by_terms:
            return concepts
        result: list[Concept] = []
        at = 0
        while at < len(concepts):
            for size in range(min(self.longest, len(concepts) - at), 0, -1):
                run = concepts[at : at + size]
                terms = tuple(_single_term(c) or "" for c in run)
                if "" in terms or terms not in self.by_terms:
                    continue
                group = self.groups[self.by_terms[terms]]
                typed = next(entry for entry in group if entry.terms == terms)
                # The words typed: as the entry stands (a phrase), else anywhere on the page; then the others.
                clauses = list(run[0].clauses) if size == 1 else [typed, replace(typed, all_of=True, weight=APART)]
                clauses += [replace(entry, weight=SYNONYM) for entry in group if entry.terms != terms]
                label = " ".join(c.label for c in run)
                result.append(Concept(label, tuple(dict.fromkeys(clauses)), required=any(c.required for c in run)))
                at += size
                break
            else:
                result.append(concepts[at])
                at += 1
        return result


def _single_term(concept: Concept) -> str | None:
    """The term of a concept that is one plain word (or one code as typed)."""
    first = concept.clauses[0]
    return first.terms[0] if len(first.terms) == 1 and not first.prefix else None


def _entry_clause(entry: str) -> Clause | None:
    """A synonym entry as search matches it: one term, or a phrase whose stop words keep their places."""
    tokens = [
        (t.text, t.pos)
        for t in mixed_analyzer()(entry, positions=True, mode="query", removestops=False)
        if not t.stopped
    ]
    if not tokens:
        return None
    return Clause(tuple(t for t, _p in tokens), tuple(p - tokens[0][1] for _t, p in tokens))

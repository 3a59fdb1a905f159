"""Search quality on real public documents (``tests/realdocs``), with floors that may only go up.

The evaluation is ``benchmarks/relevance_real.py`` (``make relevance`` prints the same report): every document
is built as a real file of its format, published through kb's publishing path, extracted and indexed by real
workers, and every query is searched through ``kb.search.search``; SQLite FTS5 over the same text is the
baseline. It runs once for the module; extraction in kb's sandbox takes most of its minute or two.
"""

from __future__ import annotations

import importlib.util
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from postgres_helpers import migrated_database
from search_helpers import KINDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

# Set from the figures measured on 2026-12-01 (kb MRR@10 0.909 overall, empty first page 0.006; per category
# below), about 0.03 under them. They must only go up: raise them when search gets better, never lower them.
FLOOR_MRR = 0.88  # measured 0.909
FLOOR_EMPTY = 0.03  # the most queries (share) allowed an empty first page
FLOOR_CATEGORY = {
    "word-forms": 0.90,  # measured 0.933
    "phrases": 0.92,  # 0.955
    "questions": 0.80,  # 0.833
    "long": 0.80,  # 0.844
    "mixed": 0.82,  # 0.854
    "typos": 0.92,  # 0.955
    "layout": 0.92,  # 0.958
    "yo": 0.92,  # 0.958
    "codes": 0.92,  # 0.950
    "codes-variant": 0.87,  # 0.906
}
#: Where the plain baseline is as good as kb can be: exact codes, typed as the document writes them.
TIE_WITH_BASELINE = {"codes": 0.02}
LEAD_OVER_BASELINE = 0.18  # measured 0.909 vs 0.705
#: The Whoosh and PostgreSQL backends' overall MRR@10 at most this far apart.
BACKENDS_APART = 0.03
_MRR: dict[str, float] = {}


def _load_benchmark():
    name = "relevance_real"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "relevance_real.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


relevance = _load_benchmark()
realdocs = relevance.realdocs


# --- the corpus itself (fast) -------------------------------------------------------------------------------


def test_corpus_size_languages_and_sources() -> None:
    entries = realdocs.manifest()
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "duplicate document ids"
    assert len(entries) >= 150
    russian = sum(e["lang"] == "ru" for e in entries)
    assert russian / len(entries) >= 0.40, f"{russian} of {len(entries)} documents are Russian"
    assert len({e["source"]["repo"] for e in entries}) >= 3
    assert {e["format"] for e in entries} <= set(realdocs.FORMATS)
    for entry in entries:
        assert (realdocs.HERE / entry["lang"] / "docs" / f"{entry['id']}.md").is_file(), entry["id"]
        assert entry["id"].startswith(entry["lang"] + "-"), entry["id"]


def test_queries_are_graded_and_cover_every_category() -> None:
    queries = realdocs.queries()
    assert len(queries) >= 120
    relevance.check_queries(queries, {e["id"] for e in realdocs.manifest()})  # grades name real docs, one is 2
    categories = {q["category"] for q in queries}
    odd = categories ^ set(FLOOR_CATEGORY)
    assert not odd, f"categories without a floor, or with a floor and no queries: {sorted(odd)}"


# --- the evaluation (slow: the whole corpus through kb, once for the module) -----------------------------------


@pytest.fixture(scope="module", params=KINDS)
def report(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The evaluation with the Whoosh backend on SQLite, and with kb and its PostgreSQL backend on PostgreSQL."""
    with ExitStack() as stack:
        postgres = stack.enter_context(migrated_database()) if request.param == "postgres" else None
        result = relevance.evaluate(
            tmp_path_factory.mktemp("relevance_real"), progress=lambda _message: None, postgres=postgres
        )
    print(f"\n({request.param})\n" + relevance.format_report(result))
    _MRR[request.param] = result.figures("all")["kb"]["mrr"]
    return result


def test_every_document_was_extracted(report) -> None:
    assert not report.extraction_problems, report.extraction_problems
    assert report.corpus["documents"] == len(realdocs.manifest())


def test_overall_floors(report) -> None:
    figures = report.figures("all")["kb"]
    table = relevance.format_table(report)
    assert figures["mrr"] >= FLOOR_MRR, f"kb MRR@10 {figures['mrr']:.3f} < {FLOOR_MRR}\n{table}"
    assert figures["empty"] <= FLOOR_EMPTY, f"empty first pages {figures['empty']:.3f} > {FLOOR_EMPTY}\n{table}"
    baseline = report.figures("all")["fts5"]["mrr"]
    assert figures["mrr"] >= baseline + LEAD_OVER_BASELINE, f"kb {figures['mrr']:.3f}, FTS5 {baseline:.3f}\n{table}"


@pytest.mark.parametrize("category", sorted(FLOOR_CATEGORY))
def test_category_floor(report, category: str) -> None:
    figures = report.figures(category)
    assert figures["n"] > 0, f"no queries of category {category}"
    mrr = figures["kb"]["mrr"]
    floor = FLOOR_CATEGORY[category]
    misses = [r for r in report.misses() if r.category == category]
    detail = "\n".join(f"  rank {r.kb_rank or '-'}: {r.q[:100]!r} -> {r.kb.docs[:3]}" for r in misses)
    assert mrr >= floor, f"{category}: kb MRR@10 {mrr:.3f} < {floor}\n{detail}"


@pytest.mark.parametrize("category", sorted(FLOOR_CATEGORY))
def test_kb_is_ahead_of_the_baseline(report, category: str) -> None:
    figures = report.figures(category)
    ours, theirs = figures["kb"]["mrr"], figures["fts5"]["mrr"]
    if category in TIE_WITH_BASELINE:
        assert ours >= theirs - TIE_WITH_BASELINE[category], f"{category}: kb {ours:.3f}, FTS5 {theirs:.3f}"
    else:
        assert ours > theirs, f"{category}: kb {ours:.3f}, FTS5 {theirs:.3f}"


def test_the_backends_rank_alike() -> None:
    if len(_MRR) < 2:
        pytest.skip(f"only {', '.join(_MRR) or 'no backend'} measured in this run")
    assert abs(_MRR["whoosh"] - _MRR["postgres"]) <= BACKENDS_APART, _MRR

"""Search quality over the demo library: each query must rank its asset (and, where given, page) in the top 3.

The queries live in ``tests/relevance_queries.json``; typos and the wrong keyboard layout are corrected by
kb itself, as on the search page. The suite asserts a mean reciprocal rank of at least 0.95 and prints it, for
the Whoosh backend and for the PostgreSQL one (kb then on PostgreSQL altogether), and that the two are within
``BACKENDS_APART`` of each other.
"""

from __future__ import annotations

import json
import shutil
from contextlib import ExitStack
from pathlib import Path

import pytest

from conftest import app_config
from kb import create_app, migrate
from kb.blobs import BlobStore
from kb.publishing import Publisher
from kb.search.backend import SearchRequest
from kb.worker import Worker, WorkerContext
from postgres_helpers import migrated_database
from search_helpers import KINDS, SearchIndex

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
QUERIES = json.loads((Path(__file__).parent / "relevance_queries.json").read_text(encoding="utf-8"))
TARGET_MRR = 0.95
BACKENDS_APART = 0.03
_MRR: dict[str, float] = {}


@pytest.fixture(scope="module", params=KINDS)
def demo_index(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path, request: pytest.FixtureRequest):
    """The demo library loaded, extracted and indexed through the real publishing path, once per module and
    search backend."""
    from kb import demo

    kind = request.param
    instance = tmp_path_factory.mktemp("relevance")
    shutil.copy(migrated_template, instance / "kb.sqlite3")
    with ExitStack() as stack:
        extra = {}
        if kind == "postgres":
            extra = {"KB_SEARCH_BACKEND": "postgres", "KB_DATABASE_URL": stack.enter_context(migrated_database())}
        app = create_app(app_config(instance, **extra))
        db = app.extensions["kb_db"]
        migrate.upgrade(db)
        settings = app.config["KB_SETTINGS"]
        blobs = BlobStore(settings.blob_dir)
        demo.load(Publisher(db, blobs), demo.MANIFEST, password="relevance-test-pw")
        Worker(WorkerContext(db, blobs, settings), "relevance").run_until_idle()
        with db.session() as session:
            from sqlalchemy import select

            from kb.models import Asset

            titles = {asset.title: asset.id for asset in session.scalars(select(Asset))}
        yield SearchIndex(settings.index_dir, kind, database_url=settings.database_url), titles, kind
        SearchIndex.close_all()
        app.extensions["kb_search_log"].close()
        db.dispose()


def _rank(index: SearchIndex, query: dict, asset_id: int) -> int | None:
    """The asset's place in the results kb shows (corrected automatically where kb corrects the query)."""
    results = index.search(SearchRequest(text=query["q"], per_page=10))
    for position, hit in enumerate(results.hits, start=1):
        if hit.asset_id != asset_id:
            continue
        if "page" in query and query["page"] not in [p.page for p in hit.pages]:
            return None
        return position
    return None


def test_relevance_mean_reciprocal_rank(demo_index) -> None:
    index, titles, kind = demo_index
    assert len(QUERIES) >= 60
    reciprocal = []
    misses = []
    by_category: dict[str, list[float]] = {}
    for query in QUERIES:
        assert query["asset"] in titles, f"unknown asset in relevance_queries.json: {query['asset']}"
        rank = _rank(index, query, titles[query["asset"]])
        reciprocal.append(1 / rank if rank and rank <= 3 else 0.0)
        by_category.setdefault(query["why"].split(":")[0], []).append(reciprocal[-1])
        if not rank or rank > 3:
            misses.append(f"{query['q']!r} -> {query['asset']} (rank {rank})")
    mrr = sum(reciprocal) / len(reciprocal)
    _MRR[kind] = mrr
    print(f"\nrelevance ({kind}): MRR {mrr:.3f} over {len(QUERIES)} queries; {len(misses)} outside the top 3")
    for category, values in sorted(by_category.items()):
        print(f"  {category:<14} {len(values):>3} queries  MRR {sum(values) / len(values):.3f}")
    for miss in misses:
        print("  miss:", miss)
    assert mrr >= TARGET_MRR, f"MRR {mrr:.3f} < {TARGET_MRR}; misses: {misses}"


def test_the_backends_rank_alike() -> None:
    if len(_MRR) < 2:
        pytest.skip(f"only {', '.join(_MRR) or 'no backend'} measured in this run")
    assert abs(_MRR["whoosh"] - _MRR["postgres"]) <= BACKENDS_APART, _MRR

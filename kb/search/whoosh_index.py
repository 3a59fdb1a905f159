"""The name older indexes pickled their analyzer under (``kb.search.whoosh_index.MixedAnalyzer``).

Whoosh stores an index's schema, analyzer included, as a pickle. Indexes written before the analyzer moved to
``kb.search.analysis`` name this module; keeping the name lets them open (and be rebuilt). Nothing else here.
"""

from kb.search.analysis import MixedAnalyzer

__all__ = ["MixedAnalyzer"]

"""What analysis makes of each word, kept per process up to a number of bytes (not of entries).

Indexing and snippets analyse the same words again and again (a library of 18 million words has a few
hundred thousand distinct ones), so each word's stem and terms are computed once and kept. Kept by entries,
the three caches could grow to a few hundred megabytes in every server and worker process; here each holds at
most its share of ``KB_ANALYSIS_CACHE_MB`` (``set_budget``; ``weight`` says how many shares), counted from the
sizes of the words and answers it keeps; when full, the older half of its words go. Too small a budget costs
indexing dearly (a word's analysis is computed again each time it comes back: three to four times slower with
a quarter of a library's vocabulary kept). Callers on a hot path read ``answers`` directly and call the cache
only for a word it lacks.
"""

from __future__ import annotations

import sys
import threading
from collections import namedtuple
from collections.abc import Callable
from functools import update_wrapper
from typing import Any

CacheInfo = namedtuple("CacheInfo", "hits misses currsize budget")  # as functools.lru_cache names them
_MISSING = object()
#: Bytes of all word caches until a setting says otherwise (``KB_ANALYSIS_CACHE_MB``).
DEFAULT_TOTAL = 128 * 1024 * 1024
_ENTRY_OVERHEAD = 120  # a dictionary slot and the key tuple around the word


def _size(value: Any) -> int:
    """Roughly what ``value`` holds: a string, or a tuple/frozenset of strings or of (string, flag) pairs."""
    if isinstance(value, str):
        return sys.getsizeof(value)
    if isinstance(value, tuple | frozenset):
        return sys.getsizeof(value) + sum(_size(item) for item in value)
    return 32


class WordCache:
    """A function of a word (and a few small arguments) with its answers kept, up to ``budget`` bytes."""

    _all: list[WordCache] = []

    def __init__(self, function: Callable[..., Any], weight: int = 1) -> None:
        self.function = function
        self.weight = weight
        self.budget = 0
        self.answers: dict[tuple[Any, ...], Any] = {}
        self.held = 0
        self.hits = self.misses = 0
        self.lock = threading.Lock()
        update_wrapper(self, function)
        WordCache._all.append(self)
        set_budget(DEFAULT_TOTAL)

    def __call__(self, *args: Any) -> Any:
        found = self.answers.get(args, _MISSING)
        if found is not _MISSING:
            self.hits += 1
            return found
        self.misses += 1
        value = self.function(*args)
        cost = _ENTRY_OVERHEAD + _size(args[0]) + _size(value)
        with self.lock:
            if self.held + cost > self.budget:
                self._drop_older_half()
            self.answers[args] = value
            self.held += cost
        return value

    def _drop_older_half(self) -> None:
        """Makes room: the half of the words met first go (a dictionary keeps them in that order); the frequent
        ones among them come back at their next use. The caller holds the lock."""
        answers = self.answers
        keep = dict(list(answers.items())[len(answers) // 2 :])
        self.held = sum(_ENTRY_OVERHEAD + _size(args[0]) + _size(value) for args, value in keep.items())
        self.answers = keep

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.hits, self.misses, len(self.answers), self.budget)

    def cache_clear(self) -> None:
        with self.lock:
            self.answers = {}
            self.held = 0


def word_cache(weight: int = 1) -> Callable[[Callable[..., Any]], WordCache]:
    """Decorator: the function kept in a ``WordCache`` with ``weight`` shares of the budget."""
    return lambda function: WordCache(function, weight)


def set_budget(total: int) -> None:
    """Shares ``total`` bytes among the word caches of this process by weight (each made to fit)."""
    caches = WordCache._all
    shares = sum(cache.weight for cache in caches) or 1
    for cache in caches:
        cache.budget = max(0, total * cache.weight // shares)
        if cache.held > cache.budget:
            with cache.lock:
                while cache.held > cache.budget and cache.answers:
                    cache._drop_older_half()

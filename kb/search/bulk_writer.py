"""Writing a whole index fast (``kb index rebuild``): whoosh segments byte for byte as whoosh's writer makes them.

Whoosh's ``SegmentWriter`` spends most of a rebuild on bookkeeping rather than on the index: every posting
becomes a tuple in a pool that is sorted as a whole (and spilled to disk and merged), then each posting goes
through several calls, and for each the length of its document's field is read back from the column file just
written. Kb's text fields also pay for a token object per word on the way in. ``BulkSegmentWriter`` writes the
same files from the same documents in the same order, another way:

- the text fields with kb's analyzer (``analysis.MixedAnalyzer``, whose every filter looks at one word alone)
  become postings straight from each word's terms, computed once per distinct word (``analysis.word_terms``),
  without token objects;
- postings are pooled by term as documents arrive: documents are numbered in order, so each term's list is
  already sorted, and only the terms are sorted when the segment is written. Past a memory budget the pool
  is written to a run file sorted by term, and the runs are merged term by term at the end;
- each term's postings are written a block at a time by whoosh's own block writer, with the lengths of the
  documents' fields kept from when they were added.

``tests/test_bulk_writer.py`` checks that the files are identical to whoosh's. ``BulkMpWriter`` is whoosh's
multi-process writer with this writer in each process (one segment each).
"""

from __future__ import annotations

import heapq
import pickle
import zlib
from array import array
from collections.abc import Iterator
from operator import sub
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.system import pack_int, pack_ushort
from whoosh.system import pack_uint as _pack_uint
from whoosh.util import random_name
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from kb.search.analysis import STOP_WORDS, TOKEN_RE, MixedAnalyzer, analyzes_per_token, is_code, stem, word_terms

#: Distinct words whose index terms are kept per process (about 100 bytes each); past it the cache starts over.
WORD_CACHE_SIZE = 500_000
#: Index terms of field values other than text kept per writer (ids, numbers, dates); past it the cache starts over.
ITEMS_CACHE_SIZE = 100_000
#: Estimated bytes of the pool per posting (besides its value) and per term: the pool is spilled past its limit.
_POSTING_BYTES = 56
_TERM_BYTES = 420

_word_cache: dict[str, tuple[bytes, ...]] = {}
_findall = TOKEN_RE.findall
_dumps = pickle.dumps


def _word_index_terms(word: str) -> tuple[bytes, ...]:
    """The terms (UTF-8) that one word of a text is indexed under, in the order the analyzer yields them."""
    terms = _word_cache.get(word)
    if terms is None:
        if len(_word_cache) >= WORD_CACHE_SIZE:
            _word_cache.clear()
        text = word.lower().replace("ё", "е")
        if not is_code(text) and TOKEN_RE.fullmatch(word):
            # What the chain does to a word that is not a code: lower-cased, ё folded, dropped if a stop word,
            # else stemmed (``analysis.mixed_analyzer``); codes take the chain itself.
            terms = () if text in STOP_WORDS else (stem(text).encode("utf-8"),)
        else:
            terms = tuple(t.encode("utf-8") for t, stopped in word_terms(word, "index", True) if not stopped)
        _word_cache[word] = terms
    return terms


def _positions_postings(text: str) -> dict[bytes, list[int]]:
    """The positions of each term of a text as kb's analyzer makes them (``MixedAnalyzer`` with whoosh's
    ``Positions`` format), without the analyzer's token objects."""
    poses: dict[bytes, list[int]] = {}
    get = poses.get
    terms_of = _word_cache.get
    for pos, word in enumerate(_findall(text)):
        terms = terms_of(word)
        if terms is None:
            terms = _word_index_terms(word)
        for term in terms:
            found = get(term)
            if found is None:
                poses[term] = [pos]
            else:
                found.append(pos)
    return poses


#: The pickle of ``[position]``: most terms stand once on a page.
_single_position: dict[int, bytes] = {}
_ONE = _pack_uint(1)


def _encode_positions(poslist: list[int]) -> bytes:
    """whoosh's ``Positions.encode``, a new bytes object each time (a block's pickle would share a repeated one)."""
    if len(poslist) == 1:
        position = poslist[0]
        pickled = _single_position.get(position)
        if pickled is None:
            pickled = _single_position[position] = _dumps([position], 2)
        return _ONE + pickled
    deltas = [poslist[0]] + [b - a for a, b in zip(poslist, poslist[1:], strict=False)]
    return _pack_uint(len(deltas)) + _dumps(deltas, 2)


def _frequency_items(words: list[str], field_boost: float) -> list[tuple[bytes, int, float, bytes]]:
    """What a ``Frequency`` field's ``index`` yields for a list of words (whoosh takes a list's items as they are)."""
    freqs: dict[str, int] = {}
    for word in words:
        freqs[word] = freqs.get(word, 0) + 1
    return [(word.encode("utf-8"), freq, float(freq) * field_boost, _pack_uint(freq)) for word, freq in freqs.items()]


def _fast_text_field(field: Any) -> bool:
    """Whether a field's postings can be made by ``_positions_items``: positions only, kb's per-word analyzer."""
    return (
        type(field.format) is formats.Positions
        and isinstance(field.analyzer, MixedAnalyzer)
        and analyzes_per_token(field.analyzer)
    )


class TermPool:
    """Postings grouped by (field, term), each term's in document order; sorted runs on disk past ``limit`` bytes."""

    def __init__(self, tempstorage: Any, limit: int) -> None:
        self.tempstorage = tempstorage
        self.limit = limit
        self.size = 0
        #: field -> term -> (document numbers, weights, values)
        self.terms: dict[str, dict[bytes, tuple[array, array, list[bytes]]]] = {}
        self.runs: list[str] = []
        self.fieldnames: set[str] = set()

    def field_terms(self, fieldname: str) -> dict[bytes, tuple[array, array, list[bytes]]]:
        terms = self.terms.get(fieldname)
        if terms is None:
            terms = self.terms[fieldname] = {}
            self.fieldnames.add(fieldname)
        return terms

    def add_items(self, fieldname: str, docnum: int, items: list[tuple[bytes, int, float, bytes]]) -> None:
        """One document's postings in one field (each term once)."""
        terms = self.field_terms(fieldname)
        size = 0
        for tbytes, _freq, weight, vbytes in items:
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = (array("I"), array("d"), [])
                size += _TERM_BYTES + len(tbytes)
            entry[0].append(docnum)
            entry[1].append(weight)
            entry[2].append(vbytes)
            size += _POSTING_BYTES + len(vbytes or b"")
        self.size += size

    def add_positions(
        self, fieldname: str, docnum: int, poses: dict[bytes, list[int]], field_boost: float, boost: float
    ) -> int:
        """One document's postings in a ``Positions`` field from its terms' positions; its length (tokens)."""
        terms = self.field_terms(fieldname)
        size = length = 0
        for tbytes, poslist in poses.items():
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = (array("I"), array("d"), [])
                size += _TERM_BYTES + len(tbytes)
            count = len(poslist)
            length += count
            vbytes = _encode_positions(poslist)
            entry[0].append(docnum)
            # Positions.word_values: the sum of the tokens' boosts (1.0 each) times the field's boost; the
            # writer multiplies that by the document's boost
            weight = float(count) * field_boost
            entry[1].append(weight * boost if boost != 1.0 else weight)
            entry[2].append(vbytes)
            size += _POSTING_BYTES + len(vbytes)
        self.size += size
        return length

    def check_size(self) -> None:
        """Spills the pool to a run file when it outgrew its limit (called between documents)."""
        if self.size > self.limit:
            self._spill()

    def _spill(self) -> None:
        name = f"{random_name()}.terms"
        with self.tempstorage.create_file(name).raw_file() as handle:
            for key, entry in self._sorted_in_memory():
                pickle.dump((key, *entry), handle, pickle.HIGHEST_PROTOCOL)
            pickle.dump(None, handle, pickle.HIGHEST_PROTOCOL)
        self.runs.append(name)
        self.terms = {}
        self.size = 0

    def _sorted_in_memory(self) -> Iterator[tuple[tuple[str, bytes], tuple[array, array, list[bytes]]]]:
        for fieldname in sorted(self.terms):
            terms = self.terms[fieldname]
            for tbytes in sorted(terms):
                yield (fieldname, tbytes), terms[tbytes]

    def _read_run(self, name: str) -> Iterator[tuple[Any, ...]]:
        with self.tempstorage.open_file(name).raw_file() as handle:
            while True:
                item = pickle.load(handle)
                if item is None:
                    break
                yield item
        self.tempstorage.delete_file(name)

    def sorted_terms(self) -> Iterator[tuple[tuple[str, bytes], array, array, list[bytes]]]:
        """Every term in (field, term) order with all its postings, in document order."""
        in_memory = ((key, *entry) for key, entry in self._sorted_in_memory())
        if not self.runs:
            yield from in_memory
            return
        sources = [self._read_run(name) for name in self.runs] + [in_memory]
        current: list[Any] | None = None
        for item in heapq.merge(*sources, key=lambda item: item[0]):  # stable: earlier runs first
            if current is not None and current[0] == item[0]:
                current[1].extend(item[1])
                current[2].extend(item[2])
                current[3].extend(item[3])
                continue
            if current is not None:
                yield tuple(current)  # type: ignore[misc]
            current = list(item)
        if current is not None:
            yield tuple(current)  # type: ignore[misc]

    # the parts of whoosh's PostingPool that SegmentWriter and MpWriter call

    def save(self) -> None:
        """Nothing to do: postings stay pooled until the segment is written."""

    def cleanup(self) -> None:
        for name in self.runs:
            try:
                self.tempstorage.delete_file(name)
            except OSError:
                pass
        self.runs = []
        self.terms = {}


class BulkSegmentWriter(SegmentWriter):
    """A ``SegmentWriter`` that writes the same segment faster (see the module's docstring).

    For writing new documents only: no deletions, merges of other segments, term vectors or separate spelling
    fields (kb's schema has none)."""

    def __init__(self, ix: Any, limitmb: int = 128, **kwargs: Any) -> None:
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self.pool = TermPool(self._tempstorage, limitmb * 1024 * 1024)  # type: ignore[assignment]
        self._fast_fields = {name for name, field in self.schema.items() if _fast_text_field(field)}
        if self.codec._inlinelimit > 1:
            raise ValueError("BulkSegmentWriter writes no inlined postings")
        for name, field in self.schema.items():
            if field.vector or field.separate_spelling():
                raise ValueError(f"BulkSegmentWriter cannot write field {name!r} (term vectors or separate spelling)")
        self._items_cache: dict[tuple[str, type, Any], list[tuple[bytes, int, float, bytes]]] = {}
        #: the length byte of each document's field, as the lengths column holds it
        self._lengths: dict[str, bytearray] = {}

    def add_reader(self, reader: Any) -> None:
        raise NotImplementedError("BulkSegmentWriter writes new documents only")

    def delete_document(self, docnum: int, delete: bool = True) -> None:
        raise NotImplementedError("BulkSegmentWriter writes new documents only")

    def add_document(self, **fields: Any) -> None:
        # whoosh.writing.SegmentWriter.add_document, with the postings made and pooled as described above
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        pool = self.pool
        docboost = self._doc_boost(fields)
        fieldnames = sorted([name for name in fields if not name.startswith("_")])
        self._check_fields(schema, fieldnames)

        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    if fieldname in self._fast_fields and isinstance(value, str):
                        poses = _positions_postings(value)
                        count = pool.add_positions(fieldname, docnum, poses, field.format.field_boost, fieldboost)
                        if field.scorable:
                            length = count
                    else:
                        items = self._field_items(fieldname, field, value)
                        if fieldboost != 1.0:
                            items = [(t, f, w * fieldboost, v) for t, f, w, v in items]
                        pool.add_items(fieldname, docnum, items)
                        if field.scorable:
                            length = sum(item[1] for item in items)
                customval = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, customval if field.stored else None, length)
                if length:
                    lengths = self._lengths.get(fieldname)
                    if lengths is None:
                        lengths = self._lengths[fieldname] = bytearray()
                    if len(lengths) <= docnum:
                        lengths.extend(bytes(docnum + 1 - len(lengths)))
                    lengths[docnum] = length_to_byte(length)
                column = field.column_type
                if column and customval is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(customval))
        except Exception:
            perdocwriter.cancel_doc()
            raise

        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1
        pool.check_size()

    def _field_items(self, fieldname: str, field: Any, value: Any) -> list[tuple[bytes, int, float, bytes]]:
        """``field.index(value)``, kept per value: ids, numbers and dates repeat on every page of an asset."""
        if isinstance(value, list):
            if type(field.format) is formats.Frequency:
                return _frequency_items(value, field.format.field_boost)
            return list(field.index(value))
        key = (fieldname, type(value), value)
        items = self._items_cache.get(key)
        if items is None:
            if len(self._items_cache) >= ITEMS_CACHE_SIZE:
                self._items_cache.clear()
            items = self._items_cache[key] = list(field.index(value))
        return items

    def _flush_segment(self) -> None:
        # whoosh.writing.SegmentWriter._flush_segment with FieldWriter.add_postings done a term at a time
        self.perdocwriter.close()
        self._write_postings()
        self.fieldwriter.close()

    def _write_postings(self) -> None:
        # whoosh.codec.base.FieldWriter.add_postings, W3FieldWriter and W3PostingsWriter (add_posting,
        # _write_block, finish_postings) for a term's postings at once: the same bytes in the same order
        fieldwriter = self.fieldwriter
        schema = self.schema
        blocklimit = self.codec._blocklimit
        compression = self.codec._compression
        postfile = fieldwriter._postfile
        write = postfile.write
        tell = postfile.tell
        add_term = fieldwriter._tindex.add
        lastfield = None
        block: Any = None
        fieldid = b""
        fixedsize: int | None = None
        lengths: bytearray | None = None
        for (fieldname, tbytes), docnums, weights, values in self.pool.sorted_terms():
            if fieldname != lastfield:
                if lastfield is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, schema[fieldname])
                block = fieldwriter._postwriter  # holds each block's statistics for W3TermInfo.add_block
                fieldid = pack_ushort(fieldwriter._fieldid)
                fixedsize = fieldwriter._format.fixed_value_size()
                lengths = self._lengths.get(fieldname)
                lastfield = fieldname
            terminfo = W3TermInfo()
            startoffset = tell()
            write(WHOOSH3_HEADER_MAGIC)
            count = len(docnums)
            for start in range(0, count, blocklimit):
                end = start + blocklimit
                ids = docnums[start:end]
                size = len(ids)
                block_weights = weights[start:end]
                stored_weights = array("f", block_weights)
                top = max(block_weights)
                maxweight = top if top > 0 else 0
                minlength = None
                maxlength = 0
                if lengths is not None:
                    known = len(lengths)
                    found = [lengths[d] for d in ids if d < known and lengths[d]]
                    if found:
                        minlength = byte_to_length(min(found))
                        maxlength = byte_to_length(max(found))
                block._ids = ids
                block._weights = stored_weights
                block._minlength = minlength
                block._maxlength = maxlength
                block._maxweight = maxweight
                terminfo.add_block(block)
                # _mini_ids, _mini_weights, _mini_values
                mini_ids = (ids[0], *map(sub, ids[1:], ids))
                first = stored_weights[0]
                if stored_weights.count(first) == size:
                    mini_weights = None if first == 1.0 else first
                else:
                    mini_weights = tuple(stored_weights)
                block_values = [v for v in values[start:end] if v]
                if fixedsize is None or fixedsize < 0:
                    mini_values: Any = tuple(block_values)
                elif fixedsize == 0:
                    mini_values = None
                else:
                    mini_values = b"".join(block_values)
                databytes = _dumps((mini_ids, mini_weights, mini_values), 2)
                if compression:
                    databytes = zlib.compress(databytes, compression)
                infobytes = _dumps(
                    (size, ids[-1], maxweight, compression, length_to_byte(minlength), length_to_byte(maxlength)), 2
                )
                blocklength = len(infobytes) + len(databytes)
                write(pack_int(-blocklength if end >= count else blocklength))
                write(infobytes)
                write(databytes)
            terminfo.set_extent(startoffset, tell() - startoffset)
            add_term(fieldid + tbytes, terminfo.to_bytes())
        if lastfield is not None:
            fieldwriter.finish_field()


class _BulkSubWriterTask(SubWriterTask):
    """whoosh's writer process (``SubWriterTask``) with a ``BulkSegmentWriter``, writing a segment of its own."""

    def run(self) -> None:
        # whoosh.multiproc.SubWriterTask.run, multisegment only
        ix = self.storage.open_index(self.indexname)
        writer = self.writer = BulkSegmentWriter(ix, _lk=False, **self.kwargs)
        while self.running:
            jobinfo = self.jobqueue.get()
            if jobinfo is None:
                break
            self._process_file(*jobinfo)
        if not self.running:
            writer.cancel()
        else:
            fieldnames = writer.pool.fieldnames
            segment = writer._finalize_segment()
            writer.pool.cleanup()  # not the temporary directory: the parent's writer shares it
            self.resultqueue.put((None, fieldnames, segment), timeout=5)


class BulkMpWriter(MpWriter):
    """whoosh's multi-process writer (one segment per process) with ``BulkSegmentWriter`` in each process."""

    def __init__(self, ix: Any, procs: int, limitmb: int = 128, batchsize: int = 100) -> None:
        super().__init__(ix, procs=procs, batchsize=batchsize, multisegment=True, limitmb=limitmb)

    def _new_task(self) -> Any:
        task = _BulkSubWriterTask(
            self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, self.multisegment
        )
        self.tasks.append(task)
        task.start()
        return task

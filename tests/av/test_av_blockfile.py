"""The block file remote videos are read through: bounded, coalesced, read ahead on scans."""

from __future__ import annotations

import io

import pytest

from mediaref import SourceUnreadableError
from mediaref_av._blockfile import BLOCK, BlockFile, BlockStore, coalesce


class CountingFile(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[tuple[int, int]] = []

    def read(self, n: int | None = -1) -> bytes:
        at = self.tell()
        out = super().read(n)
        self.reads.append((at, len(out)))
        return out


DATA = bytes(range(256)) * (40 * BLOCK // 256)


def test_reads_return_the_bytes_of_the_file_wherever_they_start() -> None:
    f = BlockFile(CountingFile(DATA), "x", "k", BlockStore())
    for at, n in [(0, 10), (BLOCK - 3, 7), (5 * BLOCK + 1, 3 * BLOCK), (len(DATA) - 5, 100)]:
        f.seek(at)
        assert f.read(n) == DATA[at : at + n]


def test_read_at_leaves_the_position_the_demuxer_reads_on_from() -> None:
    # FFmpeg's buffer reads on without seeking: a table read that moved the position fed
    # x265's MP4 and LeRobot's AV1 bytes from the end of the file over HTTP.
    f = BlockFile(CountingFile(DATA), "x", "k", BlockStore())
    f.seek(2 * BLOCK + 5)
    assert f.read_at(len(DATA) - 40, 100) == DATA[-40:]
    assert f.read_at(7, 3) == DATA[7:10]
    assert f.read_at(len(DATA), 10) == b"" and f.read_at(-1, 10) == b""
    assert f.tell() == 2 * BLOCK + 5
    assert f.read(10) == DATA[2 * BLOCK + 5 : 2 * BLOCK + 15]


def test_a_planned_range_is_one_read_and_later_reads_hit_the_cache() -> None:
    raw = CountingFile(DATA)
    f = BlockFile(raw, "x", "k", BlockStore())
    f.prefetch([(3 * BLOCK + 100, 9 * BLOCK), (9 * BLOCK + 10, 12 * BLOCK)])  # coalesced
    assert raw.reads == [(3 * BLOCK, 9 * BLOCK)]
    f.seek(4 * BLOCK)
    assert f.read(6 * BLOCK) == DATA[4 * BLOCK : 10 * BLOCK]
    assert len(raw.reads) == 1 and (f.fetches, f.fetched) == (1, 9 * BLOCK)


def test_the_cache_is_bounded() -> None:
    blocks = BlockStore(max_bytes=8 * BLOCK)
    f = BlockFile(CountingFile(DATA), "x", "k", blocks)
    for i in range(0, len(DATA), BLOCK):
        f.seek(i)
        assert f.read(BLOCK) == DATA[i : i + BLOCK]
    assert blocks.nbytes <= 8 * BLOCK


def test_files_of_one_content_share_blocks_and_others_do_not() -> None:
    blocks = BlockStore()
    one, two, other = CountingFile(DATA), CountingFile(DATA), CountingFile(DATA[::-1])
    for raw, key in [(one, "a"), (two, "a"), (other, "b")]:
        f = BlockFile(raw, "x", key, blocks)
        f.prefetch([(0, 4 * BLOCK)])
        assert f.read(100) == raw.getvalue()[:100]
    assert (len(one.reads), len(two.reads), len(other.reads)) == (1, 0, 1)


def test_read_ahead_fetches_long_stretches_while_scanning() -> None:
    raw = CountingFile(DATA)
    f = BlockFile(raw, "x", "k", BlockStore())
    f.readahead = 16 * BLOCK
    while f.read(2 * BLOCK):
        pass
    assert len(raw.reads) == 3  # 40 blocks in reads of 16


def test_a_file_cut_short_is_unreadable_not_zero_filled() -> None:
    class Short(CountingFile):
        def read(self, n: int | None = -1) -> bytes:
            return super().read(n)[:10] if self.tell() > BLOCK else super().read(n)

    f = BlockFile(Short(DATA), "https://h/x.mp4", "k", BlockStore())
    f.seek(3 * BLOCK)
    with pytest.raises(SourceUnreadableError, match="ended at byte"):
        f.read(100)


def test_coalesce_merges_ranges_within_a_block() -> None:
    assert coalesce([(10, 20), (0, 5), (20 + BLOCK, 30 + BLOCK), (10**6, 10**6 + 1)]) == [
        (0, 30 + BLOCK),
        (10**6, 10**6 + 1),
    ]


def test_an_exact_prefetch_reads_the_range_only_and_serves_reads_inside_it() -> None:
    raw = CountingFile(DATA)
    store = BlockStore()
    f = BlockFile(raw, "x", "k", store)
    start, end = 3 * BLOCK + 100, 6 * BLOCK + 7
    f.prefetch([(start, end)], exact=True)
    assert raw.reads == [(start, end - start)]
    assert store.nbytes == end - start  # two parts and two whole blocks
    f.seek(start)
    assert f.read(end - start) == DATA[start:end]
    assert f.read_at(start + 5, 10) == DATA[start + 5 : start + 15]
    assert len(raw.reads) == 1
    # A byte before the range is in no part: its whole block is fetched then.
    assert f.read_at(start - 1, 2) == DATA[start - 1 : start + 1]
    assert raw.reads[1:] == [(3 * BLOCK, BLOCK)]


def test_parts_of_a_block_fetched_by_two_exact_ranges_make_the_block() -> None:
    raw = CountingFile(DATA)
    store = BlockStore()
    f = BlockFile(raw, "x", "k", store)
    cut = 5 * BLOCK + 999  # where one GOP ends and the next begins
    f.prefetch([(4 * BLOCK + 1, cut)], exact=True)
    f.prefetch([(cut, 7 * BLOCK - 1)], exact=True)
    assert store.get("k", 5 * BLOCK) == DATA[5 * BLOCK : 6 * BLOCK]  # merged, now whole
    assert store.nbytes == 7 * BLOCK - 1 - (4 * BLOCK + 1)
    assert f.read_at(4 * BLOCK + 1, 3 * BLOCK - 2) == DATA[4 * BLOCK + 1 : 7 * BLOCK - 1]
    assert len(raw.reads) == 2


def test_fences_cut_the_reads_that_cross_them() -> None:
    f = BlockFile(CountingFile(DATA), "x", "k", BlockStore())
    f.fences = [BLOCK + 10]
    f.seek(BLOCK)
    assert f.read(100) == DATA[BLOCK : BLOCK + 10]  # short: FFmpeg asks again
    assert f.read(100) == DATA[BLOCK + 10 : BLOCK + 110]

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mediaref
from mediaref import TimestampOutOfRangeError, timeline
from mediaref.timeline import (
    INT64_MAX,
    INT64_MIN,
    check_in_range,
    end_ns_of,
    index_played_at,
    indices_played_at,
    ns_to_pts,
    out_of_range,
    pts_to_ns,
    starts_ns_of,
)

TB30 = Fraction(1, 30)
# 30 fps: frame k starts at the exact time k/30 s, rounded up to a whole ns.
STARTS30 = starts_ns_of(range(4), TB30)  # [0, 33333334, 66666667, 100000000]
END30 = end_ns_of(3, 1, TB30)  # 133333334


def naive_index(starts: list[int], end: int, t: int) -> int | None:
    """The rule read literally, one frame after the other."""
    for i, s in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else end
        if s <= t < nxt:
            return i
    return None


def test_frame_starts_are_the_ceil_of_their_exact_time() -> None:
    assert STARTS30 == [0, 33_333_334, 66_666_667, 100_000_000]
    assert END30 == 133_333_334
    assert pts_to_ns(23, TB30) == 766_666_667  # 23/30 s = 766666666.67 ns


@pytest.mark.parametrize(
    ("t", "frame"),
    [
        (0, 0),
        (33_333_333, 0),  # floor of 1/30 s: the exact time is not reached yet
        (33_333_334, 1),
        (66_666_666, 1),
        (66_666_667, 2),
        (99_999_999, 2),
        (100_000_000, 3),  # an exact ns pts: its own frame from that ns on
        (133_333_333, 3),  # the last ns before the end shows the last frame
    ],
    ids=lambda v: str(v),
)
def test_rule_at_frame_boundaries(t: int, frame: int) -> None:
    assert index_played_at(STARTS30, END30, t) == frame
    assert indices_played_at(STARTS30, END30, [t]) == [frame]


def test_ceil_rule_for_a_pts_that_is_not_a_whole_ns() -> None:
    starts = starts_ns_of([22, 23], TB30)
    end = end_ns_of(23, 1, TB30)
    assert index_played_at(starts, end, 766_666_666) == 0  # floor(23/30 s)
    assert index_played_at(starts, end, 766_666_667) == 1  # ceil(23/30 s)


@pytest.mark.parametrize("t", [-1, END30, END30 + 1, INT64_MAX, INT64_MIN], ids=str)
def test_outside_the_stream_names_the_valid_range(t: int) -> None:
    with pytest.raises(TimestampOutOfRangeError) as info:
        index_played_at(STARTS30, END30, t, uri="clip.mp4")
    e = info.value
    assert (e.uri, e.pts_ns, e.begin_ns, e.end_ns) == ("clip.mp4", t, 0, END30)
    assert f"pts_ns={t} is out of range" in str(e)
    assert "[0, 133333334) ns = [0.000000, 0.133333) s" in str(e)
    assert "'clip.mp4'" in str(e)
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), str(back)) == (TimestampOutOfRangeError, str(e))


def test_an_error_without_uri_does_not_name_one() -> None:
    err = out_of_range(5, 10, 20)
    assert err is not None and str(err) == (
        "pts_ns=5 is out of range: frames are shown in [10, 20) ns = [0.000000, 0.000000) s"
    )
    assert out_of_range(10, 10, 20) is None and out_of_range(19, 10, 20) is None


def test_batch_reports_the_first_timestamp_out_of_range() -> None:
    with pytest.raises(TimestampOutOfRangeError, match=re.escape("pts_ns=-5 ")):
        indices_played_at(STARTS30, END30, [0, -5, END30])


def test_stream_that_starts_at_negative_pts() -> None:
    tb = Fraction(1, 25)
    starts = starts_ns_of([-2, -1, 0, 1], tb)
    end = end_ns_of(1, 1, tb)
    assert starts == [-80_000_000, -40_000_000, 0, 40_000_000] and end == 80_000_000
    assert index_played_at(starts, end, -80_000_000) == 0
    assert index_played_at(starts, end, -40_000_001) == 0
    assert index_played_at(starts, end, -1) == 1
    assert index_played_at(starts, end, 0) == 2
    with pytest.raises(TimestampOutOfRangeError, match=re.escape("[-80000000, 80000000) ns")):
        index_played_at(starts, end, -80_000_001)


def test_negative_pts_round_up_too() -> None:
    assert pts_to_ns(-23, TB30) == -766_666_666  # ceil of -766666666.67
    assert ns_to_pts(-766_666_666, TB30) == -23
    assert ns_to_pts(-766_666_667, TB30) == -24


def test_int64_extremes_are_exact() -> None:
    tb = Fraction(1, 1_000_000_000)
    starts = [INT64_MIN, 0, INT64_MAX - 1]
    end = end_ns_of(INT64_MAX - 1, 1, tb)
    assert end == INT64_MAX
    assert index_played_at(starts, end, INT64_MIN) == 0
    assert index_played_at(starts, end, -1) == 0
    assert index_played_at(starts, end, INT64_MAX - 1) == 2
    arr = np.array(starts, dtype=np.int64)
    got = indices_played_at(arr, end, np.array([INT64_MIN, 0, INT64_MAX - 1], dtype=np.int64))
    np.testing.assert_array_equal(got, [0, 1, 2])
    with pytest.raises(TimestampOutOfRangeError):
        indices_played_at(arr, end, np.array([INT64_MAX], dtype=np.int64))


def test_an_end_past_int64_is_capped() -> None:
    tb = Fraction(1, 1_000_000_000)
    assert end_ns_of(INT64_MAX - 5, 100, tb) == INT64_MAX


def test_ticks_and_ns_round_trip_exactly_near_int64() -> None:
    tb = Fraction(1, 90_000)
    pts = (INT64_MAX // 1_000_000_000) * 90_000 // 2 + 7
    t = pts_to_ns(pts, tb)
    assert ns_to_pts(t, tb) == pts and ns_to_pts(t - 1, tb) == pts - 1


def test_mediaref_reexports_the_tick_arithmetic() -> None:
    assert mediaref.pts_to_ns is pts_to_ns and mediaref.ns_to_pts is ns_to_pts


@pytest.mark.parametrize("duration", [0, None, -3])
def test_unknown_last_duration_lasts_one_frame_period(duration: int | None) -> None:
    tb = Fraction(1, 1000)
    assert end_ns_of(40, duration, tb, default_duration=Fraction(1, 25)) == 80_000_000


def test_unknown_duration_without_frame_rate_shows_the_last_frame_for_one_ns() -> None:
    tb = Fraction(1, 1000)
    assert end_ns_of(40, 0, tb) == 40_000_001
    starts = starts_ns_of([0, 40], tb)
    assert index_played_at(starts, 40_000_000, 40_000_000 - 1) == 0
    assert index_played_at(starts, 40_000_001, 40_000_000) == 1


def test_a_duration_shorter_than_a_ns_still_leaves_the_last_frame_one_ns() -> None:
    tb = Fraction(1, 10**10)  # 0.1 ns ticks
    assert pts_to_ns(9995, tb) == 1000  # 999.5 ns
    assert end_ns_of(9995, 2, tb) == 1001  # ends at 999.7 ns, before its first whole ns


def test_non_int_timestamps_are_refused() -> None:
    for bad in (True, 1.5, "5", None):
        with pytest.raises(TypeError, match="pts_ns must be ints"):
            indices_played_at(STARTS30, END30, [bad])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="pts_ns must be ints, got an array of float64"):
        check_in_range(np.array([1.0]), 0, 10)
    assert indices_played_at(STARTS30, END30, [np.int64(1), np.uint32(40_000_000)]) == [0, 1]


def test_numpy_path_gives_the_same_answers_as_lists() -> None:
    ts = [0, 33_333_333, 33_333_334, 133_333_333, 100_000_000]
    want = indices_played_at(STARTS30, END30, ts)
    assert indices_played_at(np.array(STARTS30, dtype=np.int64), END30, ts) == want
    got = indices_played_at(STARTS30, END30, np.array(ts, dtype=np.int64))
    assert isinstance(got, np.ndarray) and got.dtype == np.int64
    assert got.tolist() == want
    with pytest.raises(TimestampOutOfRangeError, match=re.escape("pts_ns=133333334 ")):
        indices_played_at(STARTS30, END30, np.array([5, END30], dtype=np.int64))


@given(
    st.lists(st.integers(1, 10**9), min_size=1, max_size=40),
    st.lists(st.integers(-(10**9), 3 * 10**10), min_size=0, max_size=20),
)
def test_a_few_times_against_array_starts_give_the_list_paths_answers(
    gaps: list[int], ts: list[int]
) -> None:
    # Up to 16 plain ints against array starts are looked up one by one; more, or any
    # other kind of time, take the vectorised path: every answer and error is the same.
    starts = [sum(gaps[:i]) for i in range(len(gaps))]
    end = starts[-1] + gaps[-1]
    arr = np.array(starts, dtype=np.int64)
    try:
        want: object = indices_played_at(starts, end, ts)
    except TimestampOutOfRangeError as e:
        want = str(e)
    try:
        got: object = indices_played_at(arr, end, ts)
    except TimestampOutOfRangeError as e:
        got = str(e)
    assert got == want
    if isinstance(want, list):
        assert all(type(i) is int for i in got)  # type: ignore[attr-defined]


def test_a_few_times_keep_refusing_what_is_not_an_int() -> None:
    arr = np.array(STARTS30, dtype=np.int64)
    for bad in (True, 1.5):
        with pytest.raises(TypeError, match="pts_ns must be ints"):
            indices_played_at(arr, END30, [0, bad])  # type: ignore[list-item]
    assert indices_played_at(arr, END30, [np.int64(1), 40_000_000]) == [0, 1]


def test_timeline_imports_no_array_library() -> None:
    code = (
        "import sys, mediaref.timeline; print(sorted({'numpy', 'av', 'PIL'} & sys.modules.keys()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[int], int, Fraction]:
    tb = Fraction(1, draw(st.sampled_from([1, 25, 30, 1000, 90_000, 30_000, 10**9, 3 * 10**9])))
    first = draw(st.integers(-(10**8), 10**8))  # within int64 ns at every time base
    steps = draw(st.lists(st.integers(1, 10**4), min_size=0, max_size=12))
    pts = [first]
    for s in steps:
        pts.append(pts[-1] + s)
    last_duration = draw(st.one_of(st.none(), st.integers(0, 10**4)))
    rate = draw(st.sampled_from([None, Fraction(1, 25), Fraction(1001, 30_000)]))
    starts = starts_ns_of(pts, tb)
    return starts, end_ns_of(pts[-1], last_duration, tb, default_duration=rate), tb


@given(stream=streams(), data=st.data())
def test_rule_matches_a_linear_scan(
    stream: tuple[list[int], int, Fraction], data: st.DataObject
) -> None:
    starts, end, _ = stream
    # Ticks shorter than a ns can start two frames at the same ns: the later one is shown.
    starts = [s for i, s in enumerate(starts) if i + 1 == len(starts) or starts[i + 1] != s]
    near = [x + d for x in [*starts, end] for d in (-1, 0, 1)]
    t = data.draw(st.one_of(st.sampled_from(near), st.integers(starts[0] - 10, end + 10)))
    want = naive_index(starts, end, t)
    if want is None:
        with pytest.raises(TimestampOutOfRangeError):
            index_played_at(starts, end, t)
    else:
        assert index_played_at(starts, end, t) == want
        assert indices_played_at(np.array(starts, dtype=np.int64), end, [t]) == [want]


@given(pts=st.integers(-(2**70), 2**70), den=st.integers(1, 10**6), num=st.integers(1, 1001))
def test_tick_conversion_is_ceil_and_floor_of_the_exact_time(pts: int, den: int, num: int) -> None:
    tb = Fraction(num, den)
    exact = pts * tb * 1_000_000_000
    t = pts_to_ns(pts, tb)
    assert t - 1 < exact <= t
    back = ns_to_pts(t, tb)
    assert back * tb * 1_000_000_000 <= t < (back + 1) * tb * 1_000_000_000


def test_docs_show_every_timeline_function() -> None:
    import inspect
    from pathlib import Path

    from mediaref import timeline

    doc = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    section = doc[doc.index("## The frame rule: `mediaref.timeline`") :]
    for name in timeline.__all__:
        fn = getattr(timeline, name)
        if inspect.isfunction(fn):
            params = [
                p.split(":")[0].strip("*") for p in str(inspect.signature(fn))[1:].split(", ")
            ]
            head = section[section.index(f"def {name}(") :]
            head = head[: head.index(") ->")]
            assert all(p in head for p in params if p != "*"), name


def test_frames_shown_between_include_the_one_on_screen_at_the_start() -> None:
    starts, end = [0, 10, 20, 30], 40
    assert timeline.indices_shown_between(starts, end, 5, 25) == range(0, 3)
    assert timeline.indices_shown_between(starts, end, 10, 20) == range(1, 2)
    assert timeline.indices_shown_between(starts, end, 10, 21) == range(1, 3)
    assert timeline.indices_shown_between(starts, end, -100, 1) == range(0, 1)
    assert timeline.indices_shown_between(starts, end, 39, 1000) == range(3, 4)
    assert timeline.indices_shown_between(starts, end, 40, 1000) == range(0)
    assert timeline.indices_shown_between(starts, end, 20, 20) == range(0)


@given(
    st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=30, unique=True),
    st.integers(1, 10**6),
    st.integers(-(10**12), 10**12),
    st.integers(0, 10**12),
)
def test_frames_shown_between_match_a_scan(
    starts: list[int], tail: int, start: int, length: int
) -> None:
    starts.sort()
    end = starts[-1] + tail
    stop = start + length
    ends = [*starts[1:], end]
    overlaps = [a < stop and start < b and start < stop for a, b in zip(starts, ends, strict=True)]
    want = [i for i, hit in enumerate(overlaps) if hit]
    assert list(timeline.indices_shown_between(starts, end, start, stop)) == want


def test_times_at_fps_are_exact_and_ceiled() -> None:
    assert timeline.times_at_fps(0, 10**9, 4) == [0, 250_000_000, 500_000_000, 750_000_000]
    ntsc = timeline.times_at_fps(0, 10**9, Fraction(30000, 1001))
    assert ntsc[:3] == [0, 33_366_667, 66_733_334]  # ceil of k * 1001/30 ms
    assert len(ntsc) == 30
    assert timeline.times_at_fps(5, 6, 1) == [5]
    with pytest.raises(ValueError, match="fps must be positive, got 0"):
        timeline.times_at_fps(0, 10, 0)


def test_evenly_spaced_times() -> None:
    assert timeline.evenly_spaced_ns(0, 100, 4) == [0, 25, 50, 75]
    assert timeline.evenly_spaced_ns(-10, 0, 3) == [-10, -7, -4]
    with pytest.raises(ValueError, match="num must be a positive int, got 0"):
        timeline.evenly_spaced_ns(0, 10, 0)
    with pytest.raises(ValueError, match=r"the window \[5, 5\) is empty"):
        timeline.evenly_spaced_ns(5, 5, 2)

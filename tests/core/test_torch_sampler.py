"""mediaref.torch's sampler and thread rule: standard library only, no torch needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mediaref import MediaRef
from mediaref.torch import VideoBatchSampler, sample_key, threads_per_worker


def samples(sizes: list[int]) -> list[MediaRef]:
    """Samples of videos v0, v1... with `sizes[k]` samples of video k, interleaved."""
    out = []
    for t in range(max(sizes)):
        out += [MediaRef(f"v{k}.mp4", t) for k, n in enumerate(sizes) if t < n]
    return out


def videos_of(items: list[MediaRef], batches: list[list[int]]) -> list[str]:
    """The video of each index, in batch order, with runs of the same video collapsed."""
    order = [items[i].uri for b in batches for i in b]
    return [u for k, u in enumerate(order) if k == 0 or order[k - 1] != u]


def test_every_index_once_with_each_video_contiguous() -> None:
    items = samples([7, 5, 9, 1])
    sampler = VideoBatchSampler(items, batch_size=3, seed=4)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(22))
    assert len(batches) == len(sampler) == 8 and all(len(b) == 3 for b in batches[:-1])
    assert sorted(videos_of(items, batches)) == ["v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4"]


def test_shuffles_depend_on_seed_and_epoch_only() -> None:
    items = samples([6, 6, 6, 6])
    a, b = VideoBatchSampler(items, 4, seed=1), VideoBatchSampler(items, 4, seed=1)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)
    ordered = VideoBatchSampler(items, 4, shuffle=False)
    assert [i for bt in ordered for i in bt] == sorted(range(24), key=lambda i: (items[i].uri, i))


def test_batch_k_belongs_to_worker_k_mod_n_and_each_worker_gets_a_contiguous_run() -> None:
    items = samples([5, 8, 3, 6, 3])
    sampler = VideoBatchSampler(items, batch_size=2, num_workers=3, seed=9)
    stream = list(sampler)
    runs = [sampler.worker_batches(w, 3) for w in range(3)]
    assert [len(r) for r in runs] == [5, 4, 4] and stream[12] == runs[0][4]
    assert [stream[k] for k in range(len(stream)) if k % 3 == 1] == runs[1]
    assert [
        b for run in runs for b in run
    ] == sampler.batches()  # contiguous runs of the grouped order


def test_drop_last_and_groups_by_key() -> None:
    items = samples([3, 2])
    assert len(VideoBatchSampler(items, 2, drop_last=True)) == 2
    assert all(len(b) == 2 for b in VideoBatchSampler(items, 2, drop_last=True))
    cams = [
        [MediaRef(f"ep{e}/cam{c}.mp4", t) for c in range(2)] for e in range(2) for t in range(3)
    ]
    assert sample_key(cams[4]) == "ep1/cam0.mp4"
    assert VideoBatchSampler(cams, 3, shuffle=False).batches() == [[0, 1, 2], [3, 4, 5]]


def test_ranks_split_the_epoch_order_into_contiguous_shares_of_equal_batch_counts() -> None:
    items = samples([4, 3, 2])  # 9 samples: v0 at 0 3 6 8, v1 at 1 4 7, v2 at 2 5
    one = VideoBatchSampler(items, 2, shuffle=False)
    assert [i for b in one.batches() for i in b] == [0, 3, 6, 8, 1, 4, 7, 2, 5]
    ranks = [VideoBatchSampler(items, 2, shuffle=False, rank=r, num_replicas=2) for r in (0, 1)]
    assert [r.batches() for r in ranks] == [[[0, 3], [6, 8], [1]], [[4, 7], [2], [5]]]
    assert [len(r) for r in ranks] == [3, 3]
    dropped = [
        VideoBatchSampler(items, 2, shuffle=False, drop_last=True, rank=r, num_replicas=2)
        for r in (0, 1)
    ]
    assert [list(r) for r in dropped] == [[[0, 3], [6, 8]], [[1, 4], [7, 2]]]
    assert [len(r) for r in dropped] == [2, 2]


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize(("batch", "drop_last"), [(1, True), (2, False), (3, False), (3, True)])
def test_every_sample_is_on_exactly_one_rank_each_epoch(
    replicas: int, batch: int, drop_last: bool
) -> None:
    items = samples([7, 5, 9, 1, 4])  # 26 samples, 5 videos
    for epoch in range(3):
        ranks = []
        for r in range(replicas):
            sampler = VideoBatchSampler(
                items,
                batch,
                num_workers=2,
                seed=7,
                drop_last=drop_last,
                rank=r,
                num_replicas=replicas,
            )
            sampler.set_epoch(epoch)
            ranks.append(sampler)
        whole = VideoBatchSampler(items, 1, seed=7)
        whole.set_epoch(epoch)
        order = [i for b in whole.batches() for i in b]
        got = [[i for b in s.batches() for i in b] for s in ranks]
        counts = {len(list(s)) for s in ranks}
        assert counts == {len(ranks[0])}  # the same number of batches on every rank
        assert all(0 < len(b) <= batch for s in ranks for b in s.batches())
        if drop_last:
            share = len(items) // replicas
            kept = share // batch * batch  # and the rest of a share that fills no batch
            assert got == [order[r * share : r * share + kept] for r in range(replicas)]
            assert all(len(b) == batch for s in ranks for b in s.batches())
        else:
            assert [i for g in got for i in g] == order  # contiguous shares, each once
            assert max(map(len, got)) - min(map(len, got)) <= 1
        # A rank's videos stay together: no video comes back after another one.
        assert all(len(set(v := videos_of(items, s.batches()))) == len(v) for s in ranks)


def test_the_rank_and_world_size_default_to_an_initialised_process_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    class Group:
        def is_available(self) -> bool:
            return True

        def is_initialized(self) -> bool:
            calls.append("is_initialized")
            return initialised

        def get_rank(self) -> int:
            return 2

        def get_world_size(self) -> int:
            return 3

    initialised = False
    monkeypatch.setitem(sys.modules, "torch.distributed", Group())
    sampler = VideoBatchSampler(samples([3, 3]), 1)
    assert (sampler.rank, sampler.num_replicas, calls) == (0, 1, ["is_initialized"])
    initialised = True
    sampler = VideoBatchSampler(samples([3, 3]), 1)
    assert (sampler.rank, sampler.num_replicas) == (2, 3)
    assert VideoBatchSampler(samples([3, 3]), 1, rank=0).num_replicas == 3
    given = VideoBatchSampler(samples([3, 3]), 1, rank=1, num_replicas=2)
    assert (given.rank, given.num_replicas) == (1, 2)


def test_the_epoch_can_live_in_a_shared_cell() -> None:
    items = samples([6, 6, 6, 6])
    sampler, twin = VideoBatchSampler(items, 4, seed=1), VideoBatchSampler(items, 4, seed=1)
    cell = [5]
    sampler.set_epoch(2)
    sampler.share_epoch(cell)
    assert cell == [2] and sampler.epoch == 2
    cell[0] = 3  # a worker's copy reads what the main process wrote
    twin.set_epoch(3)
    assert sampler.batches() == twin.batches()
    sampler.set_epoch(4)
    assert cell == [4]


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        VideoBatchSampler([], 0)
    with pytest.raises(TypeError, match="a sample is a MediaRef or a non-empty sequence"):
        VideoBatchSampler([[]], 1)
    with pytest.raises(ValueError, match="worker 2 is not one of 2 workers"):
        VideoBatchSampler(samples([2]), 1).worker_batches(2, 2)
    with pytest.raises(ValueError, match=r"rank must be an int in \[0, 2\), got 2"):
        VideoBatchSampler(samples([2]), 1, rank=2, num_replicas=2)
    with pytest.raises(ValueError, match="num_replicas must be an int >= 1, got 0"):
        VideoBatchSampler(samples([2]), 1, num_replicas=0)
    with pytest.raises(
        ValueError,
        match="5 samples cannot give each of 2 ranks 3 batches without repeating a sample; "
        "pass drop_last=True",
    ):
        VideoBatchSampler(samples([3, 2]), 1, num_replicas=2)
    assert len(VideoBatchSampler(samples([3, 2]), 1, num_replicas=2, drop_last=True)) == 2


@pytest.mark.parametrize(
    ("workers", "cpus", "concurrent", "threads"),
    [
        (0, 8, 1, 8),
        (1, 8, 1, 8),
        (2, 8, 1, 4),
        (3, 8, 1, 2),
        (8, 8, 1, 1),
        (16, 8, 1, 1),
        (2, 2, 1, 1),
        (2, 8, 2, 2),
        (1, 2, 2, 1),
        (4, 1, 1, 1),
    ],
)
def test_threads_per_worker_is_the_cpu_share_at_least_one(
    workers: int, cpus: int, concurrent: int, threads: int
) -> None:
    assert threads_per_worker(workers, cpus, concurrent=concurrent) == threads


def test_without_torch_the_datasets_name_the_package() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from mediaref import BackendNotInstalledError\n"
        "import mediaref.torch\n"
        "try:\n    from mediaref.torch import FrameDataset\n"
        "except BackendNotInstalledError as e:\n    print(isinstance(e, ImportError), e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "True mediaref.torch.FrameDataset needs PyTorch; install it with: pip install torch"
    )


def test_without_ray_the_functions_name_the_package() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from mediaref import BackendNotInstalledError\n"
        "import mediaref.ray\n"
        "try:\n    mediaref.ray.read_refs('x.parquet', column='ref')\n"
        "except BackendNotInstalledError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        'mediaref.ray needs Ray Data; install it with: pip install "ray[data]"'
    )

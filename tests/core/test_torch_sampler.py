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


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        VideoBatchSampler([], 0)
    with pytest.raises(TypeError, match="a sample is a MediaRef or a non-empty sequence"):
        VideoBatchSampler([[]], 1)
    with pytest.raises(ValueError, match="worker 2 is not one of 2 workers"):
        VideoBatchSampler(samples([2]), 1).worker_batches(2, 2)


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

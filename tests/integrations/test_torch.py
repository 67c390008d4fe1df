"""mediaref.torch with the real torch CPU build and real DataLoader workers.

Every returned frame is compared with a plain sequential PyAV decode (the oracle,
`mediaref.testing.decode_sequentially`), every time with the oracle's frame starts. Worker
timeouts are hang guards only; nothing depends on timing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mediaref import MediaRef
from mediaref.testing import Clip, decode_sequentially, encode
from mediaref.torch import VideoBatchSampler, usable_cpus
from tests.conftest import need

CONTEXTS = ["fork", "forkserver", "spawn"]


def collate(items: list[Any]) -> Any:
    """`mediaref.torch.collate`, imported when called (torch may be missing: a skip)."""
    from mediaref.torch import collate

    return collate(items)


X264 = {"x264-params": "keyint=8:min-keyint=8:bframes=2:scenecut=0:log-level=none"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    d = tmp_path_factory.mktemp("torch")
    # Each episode starts 10 s after the previous one: every frame time is unique, so a
    # frame from the wrong file cannot pass for the right one.
    paths = [
        encode(
            d / f"episode_{k}.mp4",
            "libx264",
            n=24,
            rate=20,
            size=(64, 48),
            options=X264,
            pts=[200 * k + i for i in range(24)],
        )
        for k in range(3)
    ]
    return [decode_sequentially(p) for p in paths]


def single_samples(clips: list[Clip]) -> list[MediaRef]:
    """One reference per sample: the middle of every third frame of each clip."""
    out = []
    for clip in clips:
        for i in range(0, len(clip.starts_ns), 3):
            nxt = clip.starts_ns[i + 1] if i + 1 < len(clip.starts_ns) else clip.end_ns
            out.append(MediaRef(clip.uri, (clip.starts_ns[i] + nxt) // 2))
    return out


def clip_samples(clips: list[Clip], length: int = 4) -> list[list[MediaRef]]:
    """Samples of `length` consecutive frames, each asked at its first ns."""
    return [
        [MediaRef(clip.uri, t) for t in clip.starts_ns[i : i + length]]
        for clip in clips
        for i in range(0, len(clip.starts_ns) - length + 1, length)
    ]


def expected(clips: list[Clip], ref: MediaRef) -> tuple[np.ndarray, int, int]:
    clip = next(c for c in clips if c.uri == ref.uri)
    assert ref.pts_ns is not None
    i = clip.index_at(ref.pts_ns)
    return clip.frames[i], clip.starts_ns[i], i


def check_item(clips: list[Clip], sample: Any, item: dict[str, Any]) -> None:
    refs = [sample] if isinstance(sample, MediaRef) else sample
    frames = item["frames"].numpy().reshape(len(refs), *item["frames"].shape[-3:])
    pts = item["pts_ns"].numpy().reshape(-1)
    index = item["frame_index"].numpy().reshape(-1)
    for k, ref in enumerate(refs):
        frame, start, i = expected(clips, ref)
        np.testing.assert_array_equal(frames[k], frame)
        assert (int(pts[k]), int(index[k])) == (start, i)


def row(batch: dict[str, Any], k: int) -> dict[str, Any]:
    """Sample `k` of a collated batch."""
    return {key: batch[key][k] for key in ("frames", "pts_ns", "frame_index")}


def worker_id(item: dict[str, Any]) -> dict[str, Any]:
    """A transform: adds the id of the DataLoader worker that decoded the sample."""
    import torch

    info = torch.utils.data.get_worker_info()
    return {**item, "worker": -1 if info is None else info.id}


def test_a_single_reference_gives_its_frame_with_its_time(clips: list[Clip]) -> None:
    torch = need("torch")
    from mediaref.torch import FrameDataset

    samples = single_samples(clips)
    ds = FrameDataset(samples)
    item = ds[5]
    assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (48, 64, 3)
    assert item["pts_ns"].dtype == torch.int64 and item["pts_ns"].shape == ()
    check_item(clips, samples[5], item)


def test_a_group_gives_stacked_frames_and_times(clips: list[Clip]) -> None:
    torch = need("torch")
    from mediaref.torch import FrameDataset

    samples = clip_samples(clips)
    ds = FrameDataset(samples)
    items = ds.__getitems__([0, 7, 3])
    assert items[0]["frames"].shape == (4, 48, 64, 3)
    assert items[0]["pts_ns"].dtype == torch.int64 and items[0]["pts_ns"].shape == (4,)
    for i, item in zip([0, 7, 3], items, strict=True):
        check_item(clips, samples[i], item)


def test_a_group_of_two_cameras_unstacked_is_a_list_of_tensors(clips: list[Clip]) -> None:
    need("torch")
    from mediaref.torch import FrameDataset

    sample = [MediaRef(clips[k].uri, clips[k].starts_ns[3]) for k in range(2)]
    item = FrameDataset([sample], stack=False, transform=worker_id)[0]
    assert isinstance(item["frames"], list) and item["worker"] == -1
    for k, ref in enumerate(sample):
        np.testing.assert_array_equal(item["frames"][k].numpy(), expected(clips, ref)[0])


def test_single_tensors_share_memory_with_the_decoded_arrays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need("torch")
    from mediaref import DecodedFrame, _torch_data
    from mediaref.torch import FrameDataset

    arrays = [np.full((4, 6, 3), k, np.uint8) for k in range(2)]
    fake = lambda refs, **kw: [DecodedFrame(a, 7, k) for k, a in enumerate(arrays)]  # noqa: E731
    monkeypatch.setattr(_torch_data, "batch_decode", fake)
    items = FrameDataset([MediaRef("a.mp4", 0), MediaRef("a.mp4", 1)]).__getitems__([0, 1])
    assert [item["frames"].data_ptr() for item in items] == [a.ctypes.data for a in arrays]


@pytest.mark.parametrize("context", CONTEXTS)
def test_dataloader_workers_return_exact_frames_and_stay_on_their_videos(
    clips: list[Clip], context: str
) -> None:
    torch = need("torch")
    from mediaref.torch import FrameDataset

    samples = single_samples(clips)
    sampler = VideoBatchSampler(samples, batch_size=2, num_workers=2, seed=3)
    loader = torch.utils.data.DataLoader(
        FrameDataset(samples, transform=worker_id),
        batch_sampler=sampler,
        num_workers=2,
        multiprocessing_context=context,
        timeout=120,
        collate_fn=collate,
    )
    seen: dict[int, set[str]] = {0: set(), 1: set()}
    got = []
    for indices, batch in zip(sampler, loader, strict=True):
        for k, i in enumerate(indices):
            item = row(batch, k)
            check_item(clips, samples[i], item)
            seen[int(batch["worker"][k])].add(samples[i].uri)
            got.append(i)
    assert sorted(got) == list(range(len(samples)))
    # 3 videos over 2 workers in contiguous runs: at most one video is shared.
    assert len(seen[0] & seen[1]) <= 1 and seen[0] | seen[1] == {c.uri for c in clips}


@pytest.mark.parametrize("context", CONTEXTS)
def test_stream_decodes_ahead_in_workers_and_returns_exact_clips(
    clips: list[Clip], context: str
) -> None:
    samples, sampler, stream = clip_stream(clips, seed=1, ahead=2)
    loader = two_workers(stream, context)
    expected_batches = sampler.worker_batches(0, 2) + sampler.worker_batches(1, 2)
    batches = list(loader)
    assert len(batches) == len(expected_batches) == len(stream)
    assert batches[0]["frames"].shape == (2, 4, 48, 64, 3)
    got = []
    for batch in batches:
        # Workers interleave their runs; find each batch by its times (unique per video).
        indices = next(
            b for b in expected_batches if _pts_of(samples, b) == batch["pts_ns"].tolist()
        )
        for k, i in enumerate(indices):
            item = row(batch, k)
            check_item(clips, samples[i], item)
            got.append(i)
    assert sorted(got) == list(range(len(samples)))


def clip_stream(clips: list[Clip], seed: int, **options: Any) -> tuple[Any, Any, Any]:
    """Clip samples, their `VideoBatchSampler` (batches of 2) and a `FrameStream` of them."""
    need("torch")
    from mediaref.torch import FrameDataset, FrameStream

    samples = clip_samples(clips)
    sampler = VideoBatchSampler(samples, batch_size=2, seed=seed)
    return samples, sampler, FrameStream(FrameDataset(samples), sampler, **options)


def two_workers(stream: Any, context: str, **options: Any) -> Any:
    """A DataLoader of a `FrameStream`'s batches with 2 workers (timeout: a hang guard)."""
    import torch

    return torch.utils.data.DataLoader(
        stream,
        batch_size=None,
        num_workers=2,
        multiprocessing_context=context,
        timeout=120,
        **options,
    )


def _pts_of(samples: list[list[MediaRef]], indices: list[int]) -> list[list[int | None]]:
    return [[r.pts_ns for r in samples[i]] for i in indices]


def test_stream_in_the_main_process_matches_the_sampler_order(clips: list[Clip]) -> None:
    need("torch")
    from mediaref.torch import FrameDataset, FrameStream

    samples = clip_samples(clips)
    sampler = VideoBatchSampler(samples, batch_size=3, seed=2)
    batches = list(FrameStream(FrameDataset(samples), sampler, ahead=1))
    assert len(batches) == len(sampler.batches())
    for indices, batch in zip(sampler.batches(), batches, strict=True):
        for k, i in enumerate(indices):
            check_item(clips, samples[i], row(batch, k))


class OptionsSeen:
    """A dataset whose items are the decode options the dataset would pass, per worker."""

    def __init__(self, **options: Any) -> None:
        from mediaref.torch import FrameDataset

        self.ds = FrameDataset([MediaRef("unused.mp4", 0)] * 4, **options)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"options": self.ds.decode_options(), "ahead": self.ds.decode_options(concurrent=3)}


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_split_the_cpus_between_their_codec_threads(workers: int) -> None:
    torch = need("torch")
    need("av")
    loader = torch.utils.data.DataLoader(
        OptionsSeen(),
        batch_size=None,
        num_workers=workers,
        multiprocessing_context="fork",
        timeout=120,
    )
    cpus = usable_cpus()
    share = max(1, cpus // workers)
    for item in loader:
        assert item["options"] == {"threads": share, "workers": share}
        three = max(1, cpus // (workers * 3))
        assert item["ahead"] == {"threads": three, "workers": three}


def test_the_main_process_keeps_the_backend_default_and_given_threads_win() -> None:
    need("torch")
    need("av")
    assert OptionsSeen()[0]["options"] == {}
    assert OptionsSeen(threads=3)[0]["ahead"]["threads"] == 3


def test_an_image_has_no_time_and_frames_of_two_sizes_need_stack_false(
    clips: list[Clip], tmp_path_factory: pytest.TempPathFactory
) -> None:
    need("torch")
    from PIL import Image

    from mediaref.testing import picture
    from mediaref.torch import NO_PTS, FrameDataset

    d = tmp_path_factory.mktemp("image")
    Image.fromarray(picture(5, 32, 16)).save(d / "goal.png")
    image = MediaRef(str(d / "goal.png"))
    item = FrameDataset([image])[0]
    np.testing.assert_array_equal(item["frames"].numpy(), picture(5, 32, 16))
    assert (int(item["pts_ns"]), int(item["frame_index"])) == (NO_PTS, -1)
    mixed = [MediaRef(clips[0].uri, clips[0].starts_ns[0]), image]
    with pytest.raises(ValueError, match=r"different shapes .* pass stack=False"):
        FrameDataset([mixed])[0]
    assert [t.shape for t in FrameDataset([mixed], stack=False)[0]["frames"]] == [
        (48, 64, 3),
        (16, 32, 3),
    ]


@pytest.mark.parametrize("context", CONTEXTS)
def test_clips_collated_in_workers_are_exact(clips: list[Clip], context: str) -> None:
    torch = need("torch")
    from mediaref.torch import FrameDataset

    samples = clip_samples(clips)
    sampler = VideoBatchSampler(samples, batch_size=3, num_workers=2, seed=5)
    loader = torch.utils.data.DataLoader(
        FrameDataset(samples),
        batch_sampler=sampler,
        num_workers=2,
        multiprocessing_context=context,
        timeout=120,
        collate_fn=collate,
    )
    got = []
    for indices, batch in zip(sampler, loader, strict=True):
        assert batch["frames"].shape == (len(indices), 4, 48, 64, 3)
        for k, i in enumerate(indices):
            check_item(clips, samples[i], row(batch, k))
            got.append(i)
    assert sorted(got) == list(range(len(samples)))


def test_collate_returns_the_batch_tensor_of_clips_without_a_copy(clips: list[Clip]) -> None:
    torch = need("torch")
    from mediaref.torch import FrameDataset

    samples = clip_samples(clips)
    items = FrameDataset(samples).__getitems__([2, 0, 5])
    batch = collate(items)
    assert batch["frames"].data_ptr() == items[0]["frames"].data_ptr()
    assert batch["frames"].shape == (3, 4, 48, 64, 3) and batch["pts_ns"].shape == (3, 4)
    expected = torch.utils.data.default_collate(items)
    assert all(torch.equal(batch[key], expected[key]) for key in expected)
    # Items that are not views of one batch (a transform copied them) are stacked.
    copied = [{**item, "frames": item["frames"].clone()} for item in items]
    assert torch.equal(collate(copied)["frames"], expected["frames"])


def _ddp_rank(rank: int, port: int, samples: list[list[MediaRef]], out: str) -> None:
    """One rank of a 2-process gloo group: the batches and items it loads in 2 epochs."""
    import pickle

    import torch.distributed as dist
    from torch.utils.data import DataLoader

    from mediaref.torch import FrameDataset, FrameStream

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        sampler = VideoBatchSampler(samples, batch_size=2, seed=11)  # rank from the group
        dataset = FrameDataset(samples)
        loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
        stream = FrameStream(dataset, sampler)
        epochs = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            got = {"loader": [], "stream": []}
            for name, batches in (("loader", loader), ("stream", stream)):
                for indices, batch in zip(sampler, batches, strict=True):
                    arrays = {k: batch[k].numpy().copy() for k in ("frames", "pts_ns")}
                    got[name].append((indices, arrays, batch["frame_index"].numpy().copy()))
            counts = [0, 0]
            dist.all_gather_object(counts, len(got["loader"]))  # equal on both ranks
            epochs.append({**got, "counts": counts})
        result = {"rank": (sampler.rank, sampler.num_replicas), "epochs": epochs}
        with open(f"{out}/rank{rank}.pickle", "wb") as f:
            pickle.dump(result, f)
    finally:
        dist.destroy_process_group()


def test_two_ddp_ranks_load_each_sample_once_per_epoch_with_exact_frames(
    clips: list[Clip], tmp_path: Any
) -> None:
    """A real 2-process gloo group on loopback (torch.multiprocessing.spawn)."""
    import pickle
    import socket

    need("torch")
    import torch.multiprocessing as tmp

    samples = clip_samples(clips, length=3)  # 24 samples of 3 frames, 3 videos
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp.spawn(_ddp_rank, args=(port, samples, str(tmp_path)), nprocs=2, join=True)
    ranks = [pickle.loads((tmp_path / f"rank{r}.pickle").read_bytes()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [(0, 2), (1, 2)]
    orders = []
    for epoch in range(2):
        seen = []
        for r, result in enumerate(ranks):
            got = result["epochs"][epoch]
            assert got["counts"] == [6, 6]
            expected = VideoBatchSampler(samples, 2, seed=11, rank=r, num_replicas=2)
            expected.set_epoch(epoch)
            assert [b[0] for b in got["loader"]] == expected.batches()
            assert [b[0] for b in got["stream"]] == expected.batches()
            for indices, arrays, index in got["loader"] + got["stream"]:
                for k, i in enumerate(indices):
                    item = {"frames": torch_like(arrays["frames"][k])}
                    item["pts_ns"] = torch_like(arrays["pts_ns"][k])
                    item["frame_index"] = torch_like(index[k])
                    check_item(clips, samples[i], item)
            seen += [i for b in expected.batches() for i in b]
        assert sorted(seen) == list(range(len(samples)))  # each sample on exactly one rank
        orders.append(seen)
    assert orders[0] != orders[1]  # set_epoch reshuffled


def torch_like(array: np.ndarray) -> Any:
    """A torch tensor of `array` (check_item reads ``.numpy()`` and ``.shape``)."""
    import torch

    return torch.from_numpy(array)


def open_videos() -> int:
    """How many .mp4 files this process holds open."""
    import contextlib
    import os

    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile (the listing's)
            count += os.readlink(f"/proc/self/fd/{fd}").endswith(".mp4")
    return count


def probed_collate(items: list[Any]) -> Any:
    """`collate`, plus what the worker holds: its pid, the names of its Python threads
    other than the decode pool's, and its open video files."""
    import os
    import threading

    batch = collate(items)
    others = sorted(t.name for t in threading.enumerate() if not t.name.startswith("mediaref"))
    batch["probe"] = (os.getpid(), ",".join(others), open_videos())
    return batch


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_stream_with_persistent_workers_follows_each_epoch_with_exact_frames(
    clips: list[Clip], context: str
) -> None:
    samples, sampler, stream = clip_stream(clips, seed=4, ahead=1, collate_fn=probed_collate)
    loader = two_workers(stream, context, persistent_workers=True)
    probes: dict[int, list[tuple[int, str, int]]] = {}
    inherited = open_videos()  # a forked worker starts with this process's open files
    orders = []
    for epoch in range(5):
        # Either call reaches the persistent workers (the epoch is in shared memory).
        (stream.set_epoch if epoch % 2 else sampler.set_epoch)(epoch)
        by_pts = {
            str(_pts_of(samples, b)): b for w in range(2) for b in sampler.worker_batches(w, 2)
        }
        got = []
        for k, batch in enumerate(loader):
            if epoch == 2 and k == 1:
                break  # an abandoned epoch: the next one must still be whole and exact
            indices = by_pts[str(batch["pts_ns"].tolist())]  # a batch of this epoch
            for j, i in enumerate(indices):
                check_item(clips, samples[i], row(batch, j))
            got.append(indices)
            pid, threads, files = batch["probe"]
            probes.setdefault(pid, []).append((epoch, threads, files))
        if epoch != 2:
            assert sorted(i for b in got for i in b) == list(range(len(samples)))
            orders.append(sorted(map(tuple, got)))
    assert len(probes) == 2  # the same two workers served every epoch
    for seen in probes.values():
        # Python's queue feeder and fd-sharing threads start while the first batch is
        # handed over; from the second epoch on, no thread is added.
        assert len({threads for epoch, threads, _ in seen if epoch > 0}) == 1
        # Containers are cached: at most one per video and decode in flight (ahead + 1).
        assert max(files for _, _, files in seen) <= inherited + 2 * len(clips)
    assert len({str(o) for o in orders}) == len(orders)  # each epoch its own order


def in_place(item: dict[str, Any]) -> dict[str, Any]:
    """A transform: adds how many frames this process has converted into batch tensors."""
    import mediaref_av

    return {**item, "in_place": mediaref_av.counters().frames_converted_in_place}


@pytest.mark.parametrize("kind", ["clips", "singles"])
def test_a_batch_of_known_frame_shapes_is_decoded_into_its_collated_tensor(
    clips: list[Clip], kind: str
) -> None:
    need("torch")
    import mediaref_av
    from mediaref.torch import FrameDataset

    samples: list[Any] = clip_samples(clips) if kind == "clips" else single_samples(clips)
    ds = FrameDataset(samples)
    ds.__getitems__([0, 1, len(samples) - 1])  # the first batch of each video learns its shape
    mediaref_av.reset_counters()
    indices = [2, 0, 5]
    items = ds.__getitems__(indices)
    batch = collate(items)
    counters = mediaref_av.counters()
    assert counters.frames_converted_in_place == counters.frames_converted > 0
    assert all(item["frames"]._base is batch["frames"] for item in items)
    for k, i in enumerate(indices):
        check_item(clips, samples[i], row(batch, k))


@pytest.mark.parametrize("stream", [False, True], ids=["loader", "stream"])
def test_workers_decode_into_shared_batch_tensors_with_exact_frames(
    clips: list[Clip], stream: bool
) -> None:
    torch = need("torch")
    from mediaref.torch import FrameDataset, FrameStream

    samples = clip_samples(clips, length=2)
    sampler = VideoBatchSampler(samples, batch_size=2, num_workers=2, seed=3)
    ds = FrameDataset(samples, transform=in_place)
    if stream:
        loader = torch.utils.data.DataLoader(
            FrameStream(ds, sampler), batch_size=None, num_workers=2, timeout=120
        )
    else:
        loader = torch.utils.data.DataLoader(
            ds, batch_sampler=sampler, num_workers=2, timeout=120, collate_fn=collate
        )
    most = 0
    for indices, batch in zip(sampler, loader, strict=True):
        for k, i in enumerate(indices):
            check_item(clips, samples[i], row(batch, k))
        most = max(most, int(batch["in_place"].max()))
    assert most > 0  # later batches of a worker's videos went straight into their tensors


def test_a_video_whose_frames_changed_size_is_decoded_again_at_its_new_size(
    tmp_path: Any,
) -> None:
    need("torch")
    from mediaref.torch import FrameDataset, FrameStream

    path = tmp_path / "episode.mp4"
    encode(path, "libx264", n=12, rate=20, size=(64, 48), options=X264)
    samples = [
        [MediaRef(str(path), t) for t in (0, 50_000_000)],
        [MediaRef(str(path), 100_000_000)] * 2,
    ]
    sampler = VideoBatchSampler(samples, batch_size=2, shuffle=False)
    ds, ds_stream = FrameDataset(samples), FrameDataset(samples)
    assert ds.__getitems__([0, 1])[0]["frames"].shape == (2, 48, 64, 3)  # learns 48 x 64
    for batch in FrameStream(ds_stream, sampler, ahead=0):
        assert batch["frames"].shape == (2, 2, 48, 64, 3)
    encode(path, "libx264", n=12, rate=20, size=(32, 24), options=X264)  # the file is replaced
    clip = decode_sequentially(path)
    for batches in ([collate(ds.__getitems__([0, 1]))], FrameStream(ds_stream, sampler, ahead=0)):
        for batch in batches:
            assert batch["frames"].shape == (2, 2, 24, 32, 3)
            for k, sample in enumerate(samples):
                check_item([clip], sample, row(batch, k))


MEMFD = "/memfd:mediaref-batch (deleted)"


def memory_file(address: int) -> str:
    """The file this process maps at `address` (from /proc/self/maps): inode and name."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            low, high = (int(x, 16) for x in fields[0].split("-"))
            if low <= address < high:
                return f"{fields[4]} {fields[5].strip() if len(fields) > 5 else ''}"
    raise AssertionError(f"address {address:#x} is not mapped")


def memfd_mappings() -> int:
    with open("/proc/self/maps") as maps:
        return sum(MEMFD in line for line in maps)


def open_files() -> tuple[int, list[str]]:
    """This process's open file descriptors, and the files in /dev/shm.

    Starts multiprocessing's resource tracker first: spawn starts it once per process and
    it keeps a pipe open for the life of the process, by design.
    """
    import os
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    return len(os.listdir("/proc/self/fd")), sorted(os.listdir("/dev/shm"))


def reusing_loader(clips: list[Clip], context: str, **options: Any) -> tuple[Any, Any, Any]:
    """Clips of 2 frames in batches of 2 through 2 persistent workers, decoded in place."""
    torch = need("torch")
    from mediaref.torch import FrameDataset

    samples = clip_samples(clips, length=2)
    sampler = VideoBatchSampler(samples, batch_size=2, num_workers=2, seed=5)
    collate_fn = options.pop("collate_fn", collate)
    loader = torch.utils.data.DataLoader(
        FrameDataset(samples, **options),
        batch_sampler=sampler,
        num_workers=2,
        persistent_workers=True,
        multiprocessing_context=context,
        timeout=120,
        collate_fn=collate_fn,
    )
    return samples, sampler, loader


@pytest.mark.skipif(not hasattr(__import__("os"), "memfd_create"), reason="Linux memfd")
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_workers_reuse_the_memory_of_batches_the_user_dropped(
    clips: list[Clip], context: str
) -> None:
    from mediaref._torch_shm import KEPT

    files_before = open_files()
    samples, sampler, loader = reusing_loader(clips, context)
    files = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        for indices, batch in zip(sampler, loader, strict=True):
            for k, i in enumerate(indices):
                check_item(clips, samples[i], row(batch, k))
            files.append(memory_file(batch["frames"].data_ptr()))
    del batch, loader
    reused = [f for f in files if f.endswith(MEMFD)]
    # All but each worker's first batch of a video come in a worker's reused blocks...
    assert len(reused) >= len(files) - 2 * len(clips) * 2
    # ...of which each worker keeps at most KEPT, over 4 epochs of batches.
    assert len(set(reused)) <= 2 * KEPT < len(reused) // 2
    assert memfd_mappings() == 0 and open_files() == files_before  # nothing left mapped or open


def check_held(clips: list[Clip], batch: list[list[MediaRef]], way: str, kept: Any) -> None:
    """Compare the frames of a batch held in `way` (see below) with the oracle's."""
    import torch

    if way == "batch":
        frames = kept["frames"].numpy()
    elif way == "view":
        frames, batch = kept.numpy()[None], batch[-1:]
    elif way == "numpy":
        frames = kept
    else:
        storage, shape = kept
        frames = torch.empty(0, dtype=torch.uint8).set_(storage).reshape(shape).numpy()
    for k, sample in enumerate(batch):
        for j, ref in enumerate(sample):
            np.testing.assert_array_equal(frames[k, j], expected(clips, ref)[0])


@pytest.mark.skipif(not hasattr(__import__("os"), "memfd_create"), reason="Linux memfd")
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_batches_the_user_still_holds_are_never_overwritten(
    clips: list[Clip], context: str
) -> None:
    files_before = open_files()
    samples, sampler, loader = reusing_loader(clips, context)
    held: list[tuple[list[int], str, Any]] = []  # indices, how it is held, what is held
    files, held_files = [], []
    ways = ["batch", "view", "numpy", "storage", "dropped"]
    for epoch in range(4):
        sampler.set_epoch(epoch)
        for n, (indices, batch) in enumerate(zip(sampler, loader, strict=True)):
            frames = batch["frames"]
            way = ways[n % len(ways)]
            files.append(memory_file(frames.data_ptr()))
            kept: Any = {
                "batch": batch,
                "view": frames[-1],  # the batch's last sample only
                "numpy": frames.numpy(),
                "storage": (frames.untyped_storage(), frames.shape),
                "dropped": None,
            }[way]
            if kept is not None:
                held.append((indices, way, kept))
                held_files.append(files[-1])
            del frames, batch, kept
    in_place = [f for f in held_files if f.endswith(MEMFD)]
    assert len(set(in_place)) == len(in_place) > 0  # no two held batches share memory
    reused = [f for f in files if f.endswith(MEMFD)]
    assert len(set(reused)) < len(reused)  # while the dropped batches' memory was reused
    for indices, way, kept in held:
        check_held(clips, [samples[i] for i in indices], way, kept)
    del held, kept, loader
    assert memfd_mappings() == 0 and open_files() == files_before


def blocks_made(item: dict[str, Any]) -> dict[str, Any]:
    """A transform: adds how many reusable blocks this worker has mapped so far."""
    from mediaref._torch_shm import pool

    p = pool()
    return {**item, "blocks": -1 if p is None else p.made}


@pytest.mark.skipif(not hasattr(__import__("os"), "memfd_create"), reason="Linux memfd")
def test_a_batch_tensor_never_sent_is_reused_by_its_worker(clips: list[Clip]) -> None:
    torch = need("torch")
    from torch.utils.data import default_collate

    # default_collate copies the frames into new shared memory: the worker's batch
    # tensor dies in the worker, unsent, and its block is free again at once.
    samples, sampler, loader = reusing_loader(
        clips, "fork", transform=blocks_made, collate_fn=default_collate
    )
    batches = 0
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for indices, batch in zip(sampler, loader, strict=True):
            assert isinstance(batch["frames"], torch.Tensor)
            for k, i in enumerate(indices):
                check_item(clips, samples[i], row(batch, k))
            assert int(batch["blocks"].max()) <= 2  # one block per batch shape (2 here)
            batches += 1
    assert batches > 10


@pytest.mark.skipif(not hasattr(__import__("os"), "memfd_create"), reason="Linux memfd")
def test_a_child_forked_while_a_batch_is_held_does_not_free_it(clips: list[Clip]) -> None:
    import gc
    import os

    samples, sampler, loader = reusing_loader(clips, "fork")
    sampler.set_epoch(0)
    indices, batch = next(  # a batch in a worker's reused block
        (i, b)
        for i, b in zip(sampler, loader, strict=True)
        if memory_file(b["frames"].data_ptr()).endswith(MEMFD)
    )
    held = (indices, batch["frames"])
    del batch
    pid = os.fork()
    if pid == 0:  # the child drops its copy of the batch, which the parent still holds
        del held
        gc.collect()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    reused = 0
    for epoch in range(1, 4):  # many batches, each dropped: their blocks are reused
        sampler.set_epoch(epoch)
        for _, batch in zip(sampler, loader, strict=True):
            reused += memory_file(batch["frames"].data_ptr()).endswith(MEMFD)
    assert reused > 0
    check_held(clips, [samples[i] for i in held[0]], "batch", {"frames": held[1]})

"""Training data augmented by the augserve service: shards in, (tensor, label) out.

    ds = AugserveShards(["shards/train-000000.tar", ...], "http://augment:3001",
                        ops=[{"op": "flip", "p": 0.5}, {"op": "cutout", "p": 0.5}], seed=1)
    loader = DataLoader(ds, batch_size=256, num_workers=2)
    for epoch in range(epochs):
        ds.set_epoch(epoch)          # other variants each epoch, the same ones on a rerun
        for x, y in loader: ...

Each WebDataset shard is streamed through POST /v1/augment/shard (request and answer at
once, so a shard of any size holds no more than the service's window in memory) and the
answer's samples become tensors as they arrive: with format="npy" (the service writes the
pixels behind a NumPy header, layout=chw) by numpy.load + torch.from_numpy, no decode and no
copy; with an image format by PIL. Shards are split by DataLoader worker
and by distributed rank (shard i goes to the i-th of world x workers readers), so every
sample is read once per epoch. Seeds are derived by the service from (seed, epoch, key,
variant): an epoch's tensors are the same whichever worker, rank or replica handled them.
"""
import http.client
import io
import json
import os
import tarfile
import threading
import urllib.parse

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

IMAGE_EXTENSIONS = ("npy", "jpg", "jpeg", "png", "webp", "avif", "tif", "tiff")
CHUNK = 1 << 16


class ShardError(RuntimeError):
    """The service could not read a shard (its answer ended in __error__.json or not at all)."""


def _rank_and_world():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def to_tensor(image):
    """PIL image -> uint8 tensor [C, H, W] (grey stays one channel)."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def npy_to_tensor(payload):
    """An `.npy` member (uint8, [C,H,W] with layout=chw) -> tensor sharing numpy.load's array."""
    return torch.from_numpy(np.load(io.BytesIO(payload), allow_pickle=False))


def stream_shard(service, shard, query, timeout=600):
    """POST one shard (a path, or bytes) and yield (name, bytes) for each member of the answer.

    The body is sent from a thread while the answer is read here: the service answers while it
    reads, and waits for its answer to be read before reading more (backpressure), so sending the
    whole body first would deadlock on any shard larger than the socket buffers.
    """
    url = urllib.parse.urlsplit(service)
    conn_type = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = conn_type(url.hostname, url.port, timeout=timeout)
    data = shard if isinstance(shard, (bytes, bytearray)) else None
    size = len(data) if data is not None else os.path.getsize(shard)
    conn.putrequest("POST", f"{url.path.rstrip('/')}/v1/augment/shard?{urllib.parse.urlencode(query)}")
    conn.putheader("Content-Type", "application/x-tar")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    failure = []

    def send():
        try:
            if data is not None:
                for i in range(0, size, CHUNK):
                    conn.send(data[i:i + CHUNK])
            else:
                with open(shard, "rb") as f:
                    while chunk := f.read(CHUNK):
                        conn.send(chunk)
        except OSError as error:  # the answer says why, if the service refused early
            failure.append(error)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        response = conn.getresponse()
        if response.status != 200:
            raise ShardError(f"HTTP {response.status}: {response.read(2000).decode('utf8', 'replace')}")
        finished = False
        with tarfile.open(fileobj=response, mode="r|") as answer:
            for member in answer:
                if not member.isfile():
                    continue
                payload = answer.extractfile(member).read()
                if member.name == "__error__.json":
                    raise ShardError(payload.decode("utf8", "replace"))
                if member.name == "__summary__.json":
                    finished = True
                    continue
                yield member.name, payload
        if not finished:
            raise ShardError("the answer ended without __summary__.json")
    finally:
        sender.join(timeout=1)
        conn.close()


def samples_of(members):
    """Group an answer's members into samples: {'__key__', 'v0.png', 'v0.json', ...} per key."""
    current = None
    for name, payload in members:
        slash = name.rfind("/")
        dot = name.find(".", slash + 1)
        key, ext = name[:dot], name[dot + 1:]
        if current is not None and current["__key__"] != key:
            yield current
            current = None
        if current is None:
            current = {"__key__": key}
        current[ext] = payload
    if current is not None:
        yield current


class AugserveShards(IterableDataset):
    """WebDataset shards augmented by the service, yielding (uint8 tensor [C,H,W], label).

    `label` is the sample's `.json` label (the `.cls` integer, else the `.json` `label`);
    samples the service could not augment (`.error.json`) are skipped and counted in
    `self.skipped` of the worker. `transform` is applied to each tensor (e.g. normalisation).
    `format="npy"` asks for tensors ([C,H,W] uint8, `layout=chw`) instead of encoded images: the
    trainer then decodes nothing (`npy_to_tensor`).
    With `shuffle_buffer` > 0, each epoch visits this reader's shards in an order drawn from
    (seed, epoch) and shuffles samples through a buffer of that many, also seeded: a rerun gives
    the same batches.
    """

    def __init__(self, shards, service, ops, seed=0, variants=1, epoch=0, format=None, quality=None,
                 transform=None, timeout=600, shuffle_buffer=0):
        super().__init__()
        self.shards = list(shards)
        self.service = service
        self.ops = ops
        self.seed = seed
        self.variants = variants
        self.epoch = epoch
        self.format = format
        self.quality = quality
        self.transform = transform
        self.timeout = timeout
        self.shuffle_buffer = shuffle_buffer
        self.skipped = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def query(self):
        q = {"ops": json.dumps(self.ops), "variants": self.variants, "seed": self.seed, "epoch": self.epoch}
        if self.format:
            q["format"] = self.format
        if self.format == "npy":
            q["layout"] = "chw"
        if self.quality:
            q["quality"] = self.quality
        return q

    def my_shards(self):
        """This reader's shards: reader r of world x workers takes shards r, r + n, r + 2n, ..."""
        rank, world = _rank_and_world()
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        reader, readers = rank * workers + worker, world * workers
        return self.shards[reader::readers]

    def __iter__(self):
        if self.shuffle_buffer <= 0:
            yield from self.samples()
            return
        rank, _ = _rank_and_world()
        info = get_worker_info()
        gen = torch.Generator().manual_seed(((self.seed * 1_000_003 + self.epoch) * 1009 + rank * 101 + (info.id if info else 0)) % (2 ** 63))
        buffer = []
        for item in self.samples(gen):
            if len(buffer) < self.shuffle_buffer:
                buffer.append(item)
                continue
            i = int(torch.randint(len(buffer), (1,), generator=gen))
            buffer[i], item = item, buffer[i]
            yield item
        order = torch.randperm(len(buffer), generator=gen).tolist()
        for i in order:
            yield buffer[i]

    def samples(self, gen=None):
        query = self.query()
        shards = self.my_shards()
        if gen is not None:
            shards = [shards[i] for i in torch.randperm(len(shards), generator=gen).tolist()]
        for shard in shards:
            for sample in samples_of(stream_shard(self.service, shard, query, self.timeout)):
                if "error.json" in sample:
                    self.skipped += 1
                    continue
                for v in range(self.variants):
                    stem = f"v{v}"
                    image_ext = next(e for e in IMAGE_EXTENSIONS if f"{stem}.{e}" in sample)
                    info = json.loads(sample[f"{stem}.json"])
                    label = info["label"]
                    if image_ext == "npy":
                        x = npy_to_tensor(sample[f"{stem}.npy"])
                    else:
                        with Image.open(io.BytesIO(sample[f"{stem}.{image_ext}"])) as image:
                            x = to_tensor(image)
                    if self.transform is not None:
                        x = self.transform(x)
                    yield x, label


def write_shards(images_u8, labels, folder, shard_size=1024, prefix="train"):
    """Write uint8 [N,H,W] images and labels as WebDataset shards of PNG + .cls; returns the paths.

    Keys are the sample indices, so a sample keeps its key (and its seeds) whatever the sharding.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    n = len(images_u8)
    for s, start in enumerate(range(0, n, shard_size)):
        path = os.path.join(folder, f"{prefix}-{s:06d}.tar")
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(start, min(n, start + shard_size)):
                buf = io.BytesIO()
                Image.fromarray(np.asarray(images_u8[i], dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
                for ext, payload in (("png", buf.getvalue()), ("cls", str(int(labels[i])).encode())):
                    member = tarfile.TarInfo(f"{i:07d}.{ext}")
                    member.size = len(payload)
                    tar.addfile(member, io.BytesIO(payload))
        paths.append(path)
    return paths

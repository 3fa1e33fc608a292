from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard

from token_tracking import _decode
from token_tracking._decode import Decoder, make_decoder

BODY = b'{"model": "gpt-4o", "usage": {"prompt_tokens": 3}}\n' * 200


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd,
}


def run(decoder: Decoder, data: bytes, size: int) -> bytes:
    pieces = [decoder.decode(data[i : i + size]) for i in range(0, len(data), size)]
    return b"".join(pieces) + decoder.flush()


def decoder_for(content_encoding: str | None) -> Decoder:
    decoder = make_decoder(content_encoding)
    assert decoder is not None
    return decoder


@pytest.mark.parametrize("content_encoding", [None, "", "identity", " Identity "])
def test_no_coding_passes_chunks_through_untouched(
    content_encoding: str | None,
) -> None:
    decoder = decoder_for(content_encoding)

    assert decoder.decode(BODY) is BODY
    assert decoder.flush() == b""


@pytest.mark.parametrize("coding", ENCODERS)
@pytest.mark.parametrize("size", [1, 7, 1000, 1 << 20])
def test_each_coding_decodes_in_chunks_of_any_size(coding: str, size: int) -> None:
    encoded = ENCODERS[coding](BODY)

    assert run(decoder_for(coding), encoded, size) == BODY


@pytest.mark.parametrize("content_encoding", ["GZIP", "gzip ", "identity, gzip"])
def test_coding_names_are_read_loosely(content_encoding: str) -> None:
    assert run(decoder_for(content_encoding), gzip.compress(BODY), 100) == BODY


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_raw_deflate_is_accepted_too(size: int) -> None:
    assert run(decoder_for("deflate"), raw_deflate(BODY), size) == BODY


def test_deflate_of_a_tiny_body() -> None:
    assert run(decoder_for("deflate"), raw_deflate(b""), 1) == b""
    assert run(decoder_for("deflate"), zlib.compress(b"x"), 1) == b"x"


def test_gzip_with_several_members() -> None:
    encoded = gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])

    assert run(decoder_for("gzip"), encoded, 5) == BODY


def test_gzip_ignores_padding_after_the_last_member() -> None:
    encoded = gzip.compress(BODY) + b"\x00" * 8

    assert run(decoder_for("gzip"), encoded, 64) == BODY


def test_zstd_with_several_frames() -> None:
    encoded = zstd(BODY[:100]) + zstd(BODY[100:500]) + zstd(BODY[500:])

    assert run(decoder_for("zstd"), encoded, 9) == BODY


@pytest.mark.parametrize(
    ("content_encoding", "encode"),
    [
        ("gzip, br", lambda data: brotli.compress(gzip.compress(data))),
        ("br,gzip", lambda data: gzip.compress(brotli.compress(data))),
        ("gzip, deflate", lambda data: raw_deflate(gzip.compress(data))),
        ("deflate, zstd", lambda data: zstd(zlib.compress(data))),
    ],
)
@pytest.mark.parametrize("size", [1, 50])
def test_chained_codings_are_undone_last_first(
    content_encoding: str, encode: Callable[[bytes], bytes], size: int
) -> None:
    assert run(decoder_for(content_encoding), encode(BODY), size) == BODY


@pytest.mark.parametrize(
    "content_encoding", ["compress", "xyz", "gzip, xyz", "aes128gcm"]
)
def test_unknown_codings_give_no_decoder(content_encoding: str) -> None:
    assert make_decoder(content_encoding) is None


@pytest.mark.parametrize(
    ("coding", "module"), [("br", "brotli"), ("zstd", "zstandard")]
)
def test_optional_codings_need_their_package(
    coding: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _decode._module
    monkeypatch.setattr(
        _decode, "_module", lambda name: None if name == module else real(name)
    )

    assert make_decoder(coding) is None
    assert make_decoder(f"gzip, {coding}") is None
    assert make_decoder("gzip") is not None


@pytest.mark.parametrize(
    ("coding", "garbage", "error"),
    [
        ("gzip", b"this is not gzip at all", zlib.error),
        ("deflate", b"\xff\xff\xff\xff definitely not deflate", zlib.error),
        ("br", b"\xff\xff\xff\xff not brotli", brotli.error),
        ("zstd", b"\xff\xff\xff\xff not zstd", zstandard.ZstdError),
    ],
)
def test_corrupt_input_raises_the_codec_error(
    coding: str, garbage: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(decoder_for(coding), garbage, 4)


def test_truncated_gzip_returns_what_it_can() -> None:
    encoded = gzip.compress(BODY)

    decoded = run(decoder_for("gzip"), encoded[: len(encoded) // 2], 10)

    assert BODY.startswith(decoded)

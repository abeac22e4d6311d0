"""Images as a user attaches them: real PNG/JPEG/GIF/WebP files typed by content, pixel sizes, shrinking."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from tui_agents.errors import ImageError, ImageTooLargeError
from tui_agents.images import check_size, detect_media_type, load_image, shrink_image


def picture(fmt: str, size: tuple[int, int] = (64, 48), noise: bool = False) -> bytes:
    image = PILImage.effect_noise(size, 90).convert("RGB") if noise else PILImage.new("RGB", size, (200, 40, 10))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                 ("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_each_format_is_typed_by_its_content_with_its_pixel_size(tmp_path, fmt, media_type):
    path = tmp_path / "picture.bin"  # the extension says nothing: the bytes decide
    path.write_bytes(picture(fmt))
    image = load_image(path)
    assert (image.media_type, image.width, image.height, image.name) == (media_type, 64, 48, "picture.bin")
    assert detect_media_type(path.read_bytes()) == media_type


def test_other_files_are_refused_in_plain_words(tmp_path):
    bmp = io.BytesIO()
    PILImage.new("RGB", (4, 4)).save(bmp, "BMP")
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or WebP image"):
        load_image(bmp.getvalue(), name="old.bmp")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="file path or bytes"):
        load_image(42)  # type: ignore[arg-type]


def test_too_large_says_by_how_much_and_shrinking_makes_it_fit():
    image = load_image(picture("PNG", (1200, 900), noise=True), name="noise.png")
    limit = len(image.data) // 3
    with pytest.raises(ImageTooLargeError) as caught:
        check_size(image, limit, "Anthropic")
    assert (caught.value.size, caught.value.limit) == (len(image.data), limit)
    small = shrink_image(image, limit)
    assert len(small.data) <= limit and small.media_type == "image/png" and small.name == "noise.png"
    assert small.width < 1200 and abs(small.width / small.height - 4 / 3) < 0.01
    assert load_image(small.data).sha256 == small.sha256


def test_shrinking_keeps_jpeg_as_jpeg_and_leaves_a_small_image_alone():
    image = load_image(picture("JPEG", (1600, 1200), noise=True))
    small = shrink_image(image, len(image.data) // 4)
    assert small.media_type == "image/jpeg" and len(small.data) <= len(image.data) // 4
    assert shrink_image(small, 10**9) is small

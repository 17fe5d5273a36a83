"""The readers read what a file holds and tell every input apart: colour spaces converted or refused by
name, EXIF orientation applied, animations refused as images and read as videos, one picture refused as a
video, two inputs of one sample name refused, audio headers checked before anything is read. In-process
and small."""
import struct

import numpy as np
import pytest
import soundfile as sf
import tifffile
from PIL import Image, ImageOps

import main as main_py
from components.signals import MODALITIES, read_audio, read_video
from tests.conftest import smooth_image, write_png
from tests.test_door import TINY, refused
from util.io import InputError, read_frames, read_image

RGB = smooth_image(6, 8)


def _one_line(call, *needles):
    with pytest.raises(InputError) as e:
        call()
    msg = str(e.value)
    assert "\n" not in msg and all(n in msg for n in needles), msg
    return msg


# ---- two inputs, one sample name ----

def _pngs(folder, *names):
    folder.mkdir()
    for n in names:
        Image.fromarray(RGB).save(folder / n, format="PNG" if n.lower().endswith("png") else "JPEG")
    return folder


def _wavs(folder, *names):
    folder.mkdir()
    for n in names:
        sf.write(folder / n, np.zeros((800, 1)), 16000, format=n.split(".")[-1].upper())
    return folder


@pytest.mark.parametrize("modality, make, names", [
    ("image", _pngs, ("a.png", "a.jpg")), ("image", _pngs, ("x.png", "x.PNG")), ("audio", _wavs, ("a.wav", "a.flac")),
    ("video", _pngs, ("0.png", "0.jpg", "1.png"))])
def test_two_files_of_one_sample_name_are_refused_naming_both(tmp_path, modality, make, names):
    folder = make(tmp_path / "in", *names)
    io = MODALITIES[modality].io
    _one_line(lambda: [io.read(p, {"audio_seconds": 1.0}) for p in io.list_samples(str(folder))], names[0], names[1])


def test_main_refuses_a_folder_of_colliding_names_before_a_run_folder(tmp_path, capsys):
    folder = _pngs(tmp_path / "in", "a.png", "a.jpg", "b.png")
    rc = main_py.main(["--input_path", str(folder), "--save_dir", str(tmp_path / "log"), *TINY])
    refused(capsys, rc, "a.jpg", "a.png", "'a'")
    assert not (tmp_path / "log").exists()


# ---- colour spaces and pixel types ----

def _pil(mode, **save):
    def make(path):
        Image.fromarray(RGB).convert(mode).save(path, **save)
    return make


REFUSED = {"cmyk.jpg": (_pil("CMYK"), "CMYK"), "lab.tif": (_pil("LAB"), "CIELAB"),
           "ycbcr.tif": (_pil("YCbCr"), "YCbCr"),
           "float.tif": (lambda p: tifffile.imwrite(p, np.zeros((4, 4), np.float32)), "float"),
           "int32.tif": (lambda p: tifffile.imwrite(p, np.zeros((4, 4), np.int32)), "integer"),
           "int16.tif": (lambda p: tifffile.imwrite(p, np.zeros((4, 4, 3), np.int16), photometric="rgb"), "int16"),
           "lab16.tif": (lambda p: tifffile.imwrite(p, np.zeros((4, 4, 3), np.uint16), photometric="cielab"), "CIELAB"),
           "five.tif": (lambda p: tifffile.imwrite(p, np.zeros((4, 4, 5), np.uint8), photometric="minisblack",
                                                   planarconfig="contig"), "5 channels"),
           "thumbnail.tif": (lambda p: [tifffile.imwrite(p, np.zeros((n, n, 3), np.uint8), photometric="rgb",
                                                         append=n == 4, subfiletype=int(n == 4)) for n in (8, 4)],
                             "differ in size")}


@pytest.mark.parametrize("name", list(REFUSED))
def test_colour_spaces_and_pixel_types_that_are_not_gray_or_rgb_are_refused_by_name(tmp_path, name):
    make, needle = REFUSED[name]
    make(tmp_path / name)
    _one_line(lambda: read_image(str(tmp_path / name)), name, needle)


def test_palettes_alpha_one_bit_and_white_is_zero_are_read_as_they_look(tmp_path):
    p = Image.fromarray(RGB).convert("P", palette=Image.ADAPTIVE, colors=8)
    p.save(tmp_path / "p.png", transparency=0)
    got = read_frames(str(tmp_path / "p.png"))[0]
    with Image.open(tmp_path / "p.png") as again:
        assert got.shape[2] == 4 and np.array_equal(got, np.asarray(again.convert("RGBA")))
    assert set(np.unique(got[..., 3])) == {0, 255}  # the transparency is kept, not dropped
    Image.fromarray(RGB).convert("LA").save(tmp_path / "la.png")
    assert read_frames(str(tmp_path / "la.png")).shape == (1, 6, 8, 2)
    Image.fromarray(RGB).convert("1").save(tmp_path / "one.tif")
    assert set(np.unique(read_frames(str(tmp_path / "one.tif")))) == {0, 255}
    tifffile.imwrite(tmp_path / "white.tif", RGB[..., 0], photometric="miniswhite")
    assert np.array_equal(read_frames(str(tmp_path / "white.tif"))[0, ..., 0], 255 - RGB[..., 0])
    tifffile.imwrite(tmp_path / "rgbx.tif", np.dstack([RGB, RGB[..., :1]]), photometric="rgb", extrasamples=[0])
    assert np.array_equal(read_frames(str(tmp_path / "rgbx.tif"))[0], RGB)  # an unspecified extra sample is no alpha


@pytest.mark.parametrize("layout", ["contig", "separate", "big-endian", "gray"])
def test_16_bit_tiffs_keep_their_16_bits(tmp_path, layout):
    arr = smooth_image(6, 8, c=1 if layout == "gray" else 3, dtype=np.uint16)
    stored = np.moveaxis(arr, -1, 0) if layout == "separate" else arr
    tifffile.imwrite(tmp_path / "x.tif", stored, photometric="minisblack" if layout == "gray" else "rgb",
                     planarconfig="separate" if layout == "separate" else None,
                     byteorder=">" if layout == "big-endian" else "<")
    data, nominal = read_image(str(tmp_path / "x.tif"))
    assert nominal.levels == 65536 and np.array_equal(data.permute(1, 2, 0).squeeze(-1).numpy(), arr)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_apply_it(tmp_path, orientation):
    im = Image.fromarray(RGB)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "o.png", exif=exif)
    with Image.open(tmp_path / "o.png") as ref:
        assert np.array_equal(read_frames(str(tmp_path / "o.png"))[0], np.asarray(ImageOps.exif_transpose(ref)))
    arr = smooth_image(6, 8, dtype=np.uint16)  # the same through tifffile (16-bit colour)
    tifffile.imwrite(tmp_path / "o.tif", arr, photometric="rgb", extratags=[(0x0112, "H", 1, orientation, True)])
    plane = Image.fromarray(arr[..., 0])  # Pillow turns one 16-bit plane
    plane.getexif()[0x0112] = orientation
    assert np.array_equal(read_frames(str(tmp_path / "o.tif"))[0, ..., 0], np.asarray(ImageOps.exif_transpose(plane)))


# ---- animations and single pictures ----

FRAMES = [smooth_image(6, 8, seed=s) for s in range(3)]


def _animation(path):
    if path.suffix == ".tif":
        tifffile.imwrite(path, np.stack(FRAMES), photometric="rgb")
    else:
        images = [Image.fromarray(f) for f in FRAMES]
        images[0].save(path, save_all=True, append_images=images[1:], lossless=True, duration=40)


@pytest.mark.parametrize("name", ["anim.webp", "anim.png", "stack.tif", "anim.gif"])
def test_an_animation_is_refused_as_an_image_and_read_frame_by_frame_as_a_video(tmp_path, name):
    path = tmp_path / name
    _animation(path)
    _one_line(lambda: read_image(str(path)), name, "3 frames", "--signal_type video")
    data, nominal, _ = read_video(str(path))
    assert data.shape == (3, 3, 6, 8) and nominal.levels == 256
    if name != "anim.gif":  # a GIF's colours are its palette's
        assert np.array_equal(data.permute(1, 2, 3, 0).numpy(), np.stack(FRAMES))


def test_a_cameras_jpeg_with_a_preview_is_its_one_picture(tmp_path):
    """An MPO (a JPEG with an MP Format preview after it) is an image, not two frames."""
    preview = Image.fromarray(RGB[::2, ::2])
    Image.fromarray(RGB).save(tmp_path / "camera.jpg", format="MPO", save_all=True, append_images=[preview], quality=95)
    with Image.open(tmp_path / "camera.jpg") as im:
        assert im.format == "MPO" and im.n_frames == 2
        assert np.array_equal(read_frames(str(tmp_path / "camera.jpg"))[0], np.asarray(im.convert("RGB")))


@pytest.mark.parametrize("name", ["one.tif", "one.png", "one.gif", "one.webp", "frames"])
def test_one_picture_is_refused_as_a_video(tmp_path, name):
    path = tmp_path / name
    if name == "frames":
        path.mkdir()
        write_png(path / "0.png", RGB)
    else:
        Image.fromarray(RGB).save(path)
    _one_line(lambda: read_video(str(path)), name, "one frame", "not a video")


# ---- audio headers ----

def _wav_with_header(path, rate=16000, channels=1):
    sf.write(path, np.zeros((100, 1)), 16000)
    raw = bytearray(path.read_bytes())
    raw[22:24], raw[24:28] = struct.pack("<H", channels), struct.pack("<I", rate)  # the fmt chunk's fields
    path.write_bytes(bytes(raw))
    return str(path)


@pytest.mark.parametrize("rate, channels, needle", [(1, 1, "1 Hz"), (2_000_000_000, 1, "2000000000 Hz"),
                                                    (0, 1, "cannot be read"), (16000, 1000, "1000 channels")])
def test_an_audio_header_out_of_bounds_is_refused_before_reading(tmp_path, rate, channels, needle):
    _one_line(lambda: read_audio(_wav_with_header(tmp_path / "h.wav", rate, channels), 1.0), "h.wav", needle)


def test_only_the_clip_is_read_and_it_is_what_resampling_the_whole_file_gives(tmp_path):
    from scipy.signal import resample_poly

    x = np.clip(np.random.default_rng(0).standard_normal((44100 * 3, 2)) * 0.2, -1, 1).astype(np.float32)
    sf.write(tmp_path / "long.wav", x, 44100, subtype="FLOAT")
    got, _ = read_audio(str(tmp_path / "long.wav"), 0.5)
    whole = np.clip(resample_poly(x.astype(np.float64), 160, 441, axis=0)[:8000], -1, 1)
    assert np.array_equal(got.numpy(), whole.T.astype(np.float32))


def test_out_of_memory_while_reading_suggests_a_smaller_input_not_training_options(tmp_path, capsys, monkeypatch):
    import components.signals

    def no_memory(path):
        raise MemoryError()

    monkeypatch.setattr(components.signals, "read_image", no_memory)
    path = write_png(tmp_path / "a.png", RGB)
    assert main_py.main(["--input_path", str(path), "--save_dir", str(tmp_path / "log"), *TINY]) == 3
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: out of memory reading") and "--chunk_rows" not in line, line
    assert not (tmp_path / "log").exists()

"""Render the bundled video clip ``data/video/pan/``: a camera pan with a moving object.

A licence-clean stand-in for the project's test sequences, so that chapter 2b runs on a bare
clone: 10 frames of 144 x 112 (9 x 7 macroblocks, under 300 KB as PNG) from the public-domain NASA
photograph ``data/train/endeavour.png``, magnified twice. The camera pans right and slightly down
(1.5 and 0.5 pixels of the view per frame: half-pel motion) and a 32 x 32 patch of the photograph
(the "object") moves across the view the other way at 3 pixels per frame. Sub-pixel positions are
rendered by bilinear interpolation of the photograph.

    python benchmarks/make_video_sample.py          # writes data/video/pan/001.png ... 010.png
"""

from __future__ import annotations

import numpy as np

from fromscratch.data import BUNDLED_DIR, load_image, save_image

N_FRAMES, HEIGHT, WIDTH = 10, 112, 144
ZOOM = 2  # magnified views are smoother (smaller PNG files)


def _bilinear_view(image: np.ndarray, top: float, left: float, height: int, width: int):
    """The (height, width) view at (top, left), the photograph magnified ZOOM times (bilinear)."""
    ys = top + np.arange(height) / ZOOM
    xs = left + np.arange(width) / ZOOM
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    image = image.astype(np.float64)
    a, b = image[y0][:, x0], image[y0][:, x0 + 1]
    c, d = image[y0 + 1][:, x0], image[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def render_pan() -> np.ndarray:
    """The clip as uint8 (10, 112, 144, 3)."""
    photo = load_image(BUNDLED_DIR / "train" / "endeavour.png")
    patch = photo[300:332, 40:72].astype(np.float64)  # the object: a 32 x 32 piece of the photo
    frames = []
    for t in range(N_FRAMES):
        frame = _bilinear_view(photo, 150 + 0.25 * t, 200 + 0.75 * t, HEIGHT, WIDTH)
        top, left = 50 + t, 104 - 3 * t
        frame[top : top + 32, left : left + 32] = patch
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return np.stack(frames)


def main() -> None:
    folder = BUNDLED_DIR / "video" / "pan"
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(render_pan(), start=1):
        save_image(folder / f"{t:03d}.png", frame)
    (folder / "fps").write_text("25\n")
    print(f"{folder}: {N_FRAMES} frames, {sum(p.stat().st_size for p in folder.iterdir())} bytes")


if __name__ == "__main__":
    main()

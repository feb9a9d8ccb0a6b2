#!/usr/bin/env python3
"""WebP encoder settings measured, not guessed: for each width, one server's WebP against the
lossless PNG of the same resize from the same server (so only the encoder's loss is measured),
by SSIM (scikit-image, RGB) and bytes. Run it against imgserver at each `images.webp_effort`
and against ipx (sharp) for the same widths; the speed of each setting comes from workload A.

Usage: python3 benches/webp_quality.py LABEL WEBP_TEMPLATE PNG_TEMPLATE
  templates with {w}, e.g. 'http://127.0.0.1:9110/img/k12.jpg?w={w}&fmt=webp'
  needs: pillow, scikit-image, numpy (pip install scikit-image pillow)
"""
import io
import sys
import urllib.request

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

WIDTHS = [320, 480, 640, 800, 960, 1280]


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return body, np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def main():
    label, webp_template, png_template = sys.argv[1:4]
    ssims, sizes = [], []
    for w in WIDTHS:
        webp_bytes, webp = fetch(webp_template.format(w=w))
        _, png = fetch(png_template.format(w=w))
        assert webp.shape == png.shape, (webp.shape, png.shape)
        ssim = structural_similarity(png, webp, channel_axis=2, data_range=255)
        ssims.append(ssim)
        sizes.append(len(webp_bytes))
        print(f"{label} w={w}: {len(webp_bytes)} bytes, SSIM {ssim:.4f}")
    print(f"{label}: mean SSIM {np.mean(ssims):.4f}, mean {np.mean(sizes):.0f} bytes")


if __name__ == "__main__":
    main()

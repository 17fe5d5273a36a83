"""Image, audio and video metrics: PSNR and SSIM as the reference computes them, textbook SSIM, LPIPS, SNR.
Images are (C, H, W) float tensors in their own units (0..255 for 8-bit). A metric that cannot be
computed (a perfect reconstruction's PSNR, LPIPS without weights) is None: never inf or NaN.

    python -m components.metrics REF TEST [--lpips]   # one JSON line {"psnr", "ssim", "ssim_ref", "lpips"}
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from util.recorder import finite_mean


def finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def psnr(pred, gt, peak=None):
    """The reference's PSNR: 20 log10(peak / rmse); the peak is the target's own maximum unless given."""
    mse = torch.mean((pred.double() - gt.double()) ** 2)
    return finite_or_none(20 * torch.log10((gt.double().max() if peak is None else peak) / torch.sqrt(mse)))


def psnr_null_reason(pred, gt):
    """Why psnr(pred, gt) is None: "identical" (infinite), else "no signal" (the reference's peak is <= 0)."""
    return "identical" if torch.equal(pred.double(), gt.double()) else "no signal"


def _gaussian_window(size=11, sigma=1.5):
    g = torch.tensor([math.exp(-((i - size // 2) ** 2) / (2 * sigma ** 2)) for i in range(size)])
    g = g / g.sum()
    return (g[:, None] @ g[None, :]).float()


def ssim_ref(pred, gt):
    """The SSIM variant behind Table 1 (not the textbook one, see docs/fidelity.md). The reference permutes
    (C, H, W) to (W, C, H), so its grouped convolution sees W "channels" of C x H planes; 11 x 11 Gaussian
    window (sigma 1.5), zero padding 5, stride 3, C1 = 0.01^2, C2 = 0.03^2 on 0..255 values (nearly zero)."""
    img1 = pred.float().permute(2, 0, 1).unsqueeze(0)
    img2 = gt.float().permute(2, 0, 1).unsqueeze(0)
    channels = img1.shape[1]
    window = _gaussian_window().to(img1.device).expand(channels, 1, 11, 11).contiguous()

    def conv(x):
        return F.conv2d(x, window, padding=5, groups=channels, stride=3)

    mu1, mu2 = conv(img1), conv(img2)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = conv(img1 * img1) - mu1_sq, conv(img2 * img2) - mu2_sq, conv(img1 * img2) - mu12
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim_map = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return finite_or_none(ssim_map.mean())


SSIM_BAND_PIXELS = 1 << 20  # larger images: SSIM band by band (bounded memory), smaller ones in one call
SSIM_BAND_ROWS = 256
SSIM_PAD = 5  # the 11 x 11 window's half width: the Gaussian's reach (truncate 3.5 x sigma 1.5) and the crop


def ssim(pred, gt, data_range=255.0):
    """Textbook SSIM (scikit-image: Gaussian window sigma 1.5, population covariance); None below 11 x 11."""
    from skimage.metrics import structural_similarity

    if min(gt.shape[1:]) < 11:
        return None
    if gt.shape[1] * gt.shape[2] > SSIM_BAND_PIXELS:
        return finite_or_none(_ssim_in_bands(pred, gt, data_range))
    a = gt.detach().cpu().double().permute(1, 2, 0).numpy()
    b = pred.detach().cpu().double().permute(1, 2, 0).numpy()
    return finite_or_none(structural_similarity(a, b, channel_axis=2, data_range=data_range, gaussian_weights=True,
                                                sigma=1.5, use_sample_covariance=False))


def _ssim_in_bands(pred, gt, data_range):
    """ssim() of a large image in bounded memory (scikit-image holds ~20 float64 copies of a channel): one
    channel and SSIM_BAND_ROWS rows at a time, with SSIM_PAD rows of context either side, the Gaussian's
    reach, so each band's SSIM map equals the whole image's exactly; only the mean's summation order differs."""
    from skimage.metrics import structural_similarity

    c, h, w = gt.shape
    pad, means = SSIM_PAD, []
    for ch in range(c):
        total = 0.0
        for r0 in range(pad, h - pad, SSIM_BAND_ROWS):
            r1 = min(r0 + SSIM_BAND_ROWS, h - pad)
            lo, hi = r0 - pad, min(r1 + pad, h)
            a = gt[ch, lo:hi].detach().cpu().double().numpy()
            b = pred[ch, lo:hi].detach().cpu().double().numpy()
            _, band = structural_similarity(a, b, data_range=data_range, gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False, full=True)
            total += float(band[r0 - lo:r1 - lo, pad:w - pad].sum(dtype=np.float64))
        means.append(total / ((h - 2 * pad) * (w - 2 * pad)))
    return float(np.mean(means))


class Lpips:
    """LPIPS (AlexNet, v0.1) with the reference's per-image min-max to [-1, 1].

    Built with an online run's random draws whether or not AlexNet's weights are here: AlexNet's and
    LPIPS's init draws first, then the weights from torchvision's cache, so the model drawn next starts
    as an online run's (protocol.md, "Training"). Without them `available` is False, one warning names
    the file to place, and `__call__` gives None."""
    WEIGHTS = "alexnet-owt-7be5be79.pth"

    def __init__(self, device="cpu", pnet_rand=False, log=None):
        """pnet_rand: keep the randomly initialised backbone (tests: no weights needed)."""
        self.net = None
        try:
            import lpips
        except ImportError as e:  # a broken install
            self._warn(f"{type(e).__name__}: {e}", log)
            return
        with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=`: not the user's concern
            warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
            net = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)  # no download, same draws
        if not pnet_rand:
            cache = self.weights_path()
            if not os.path.isfile(cache):
                self._warn("no AlexNet weights (offline)", log)
                return
            try:
                net.net.load_state_dict(self._backbone_state(net.net, torch.load(cache, map_location="cpu",
                                                                                 weights_only=True)))
            except Exception as e:  # a truncated download or another file under that name
                reason = str(e).splitlines()[0] if str(e) else ""
                self._warn(f"cannot read {cache}: {type(e).__name__}: {reason}", log)
                return
        self.net = net.eval().to(device)
        for p in self.net.parameters():
            p.requires_grad_(False)

    @classmethod
    def weights_path(cls):
        """Where torchvision downloads AlexNet's weights to, and where lpips would read them from."""
        return os.path.join(torch.hub.get_dir(), "checkpoints", cls.WEIGHTS)

    @staticmethod
    def _backbone_state(trunk, state):
        """torchvision's AlexNet state dict (features.N.*) as LPIPS's trunk names it (sliceK.N.*, same N)."""
        return {k: state[f"features.{k.split('.', 1)[1]}"] for k in trunk.state_dict()}

    def _warn(self, reason, log):
        note = (f"warning: LPIPS disabled ({reason}); place torchvision's AlexNet weights at {self.weights_path()} "
                f"to enable it. LPIPS is recorded as null.")
        if log is not None:  # a run's logger: the note reaches log.txt too
            log(note, level="WARNING")
        else:
            print(note, file=sys.stderr)

    @property
    def available(self):
        return self.net is not None

    @staticmethod
    def _norm(x):
        lo, hi = x.min(), x.max()
        x01 = torch.full_like(x, 0.5) if hi == lo else (x - lo) / (hi - lo)
        return (x01 - 0.5) * 2

    @torch.no_grad()
    def __call__(self, pred, gt):
        if self.net is None or pred.shape[0] != 3 or min(pred.shape[1:]) < 16:
            return None
        return finite_or_none(self.net(self._norm(gt.float()).unsqueeze(0), self._norm(pred.float()).unsqueeze(0)))


def image_metrics(pred, gt, data_range=255.0, lpips=None):
    return {"psnr": psnr(pred, gt), "ssim": ssim(pred, gt, data_range), "ssim_ref": ssim_ref(pred, gt),
            "lpips": lpips(pred, gt) if lpips is not None else None}


def snr(pred, target):
    """10 log10(sum s^2 / sum (s - s_hat)^2)."""
    s, e = target.double(), target.double() - pred.double()
    return finite_or_none(10 * torch.log10((s ** 2).sum() / (e ** 2).sum()))


def si_snr(pred, target):
    """Textbook scale-invariant SNR: zero-mean both, project the estimate onto the target."""
    s = target.double().flatten() - target.double().mean()
    s_hat = pred.double().flatten() - pred.double().mean()
    s_t = (s_hat @ s) / (s @ s) * s
    e = s_hat - s_t
    return finite_or_none(10 * torch.log10((s_t @ s_t) / (e @ e)))


def audio_metrics(pred, target):
    """SNR, SI-SNR and PSNR (peak = max |s| of the target) of a waveform reconstruction."""
    return {"snr": snr(pred, target), "si_snr": si_snr(pred, target),
            "psnr": psnr(pred, target, target.double().abs().max())}


def video_metrics(pred, target, data_range=255.0):
    """PSNR over the whole video, SSIM and ssim_ref averaged over frames, and PSNR per frame: (C, F, H, W)."""
    frames = range(target.shape[1])
    return {"psnr": psnr(pred, target),
            "ssim": finite_mean([ssim(pred[:, f], target[:, f], data_range) for f in frames]),
            "ssim_ref": finite_mean([ssim_ref(pred[:, f], target[:, f]) for f in frames]),
            "psnr_frames": [psnr(pred[:, f], target[:, f]) for f in frames]}


def _main(argv=None):
    from util.cli import Parser
    from util.io import InputError, read_image

    ap = Parser(prog="python -m components.metrics",
                description="Compare two images; print {psnr, ssim, ssim_ref, lpips} as one JSON line.")
    ap.add_argument("ref", help="reference image")
    ap.add_argument("test", help="test image")
    ap.add_argument("--lpips", action="store_true", help="also compute LPIPS (needs torchvision's AlexNet weights)")
    args = ap.parse_args(argv)
    (ref, nominal), (test, test_nominal) = read_image(args.ref), read_image(args.test)
    if ref.shape != test.shape:
        raise InputError(f"{args.test}: shape {tuple(test.shape)} differs from {args.ref}: {tuple(ref.shape)}")
    if test_nominal.levels != nominal.levels:  # e.g. the same picture stored 8- and 16-bit: one unit scale
        test = (test.double() - test_nominal.lo) * (nominal.span / test_nominal.span) + nominal.lo
        print(f"note: {args.test} holds {test_nominal.levels:.0f} levels and {args.ref} {nominal.levels:.0f}: "
              f"compared in the reference's units (test x {nominal.span:g} / {test_nominal.span:g})", file=sys.stderr)
    out = image_metrics(test, ref, nominal.span, Lpips() if args.lpips else None)
    if out["psnr"] is None:
        out["psnr_null"] = psnr_null_reason(test, ref)
        print(f"note: psnr is null: " + ("the images are identical" if out["psnr_null"] == "identical" else
              f"no signal: {args.ref} is 0 everywhere (the peak this PSNR divides by)"), file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    from util.errors import exit_code
    from util.heap import leave

    leave(exit_code(_main))

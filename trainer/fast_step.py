"""One training step: forward, MSE, the per-step PSNR scalar, log-epoch metrics, backward, Adam, schedule.

Nothing here waits for the host: the loss and PSNR come back as device tensors.
"""
import torch
import torch.nn.functional as F


def make_step(model, optimizer, scheduler, decode_rows, peak, compile_ok=True, num_epochs=0, log=print):
    def step(coords, gt, ref, on_log=None):
        pred = model(coords)
        loss = F.mse_loss(pred, gt)
        with torch.no_grad():
            detached = pred.detach()
            psnr = 20 * torch.log10(peak / torch.sqrt(F.mse_loss(decode_rows(detached), ref)))
            # Metrics describe the model before this step's update, as the reference logs them.
            metrics = on_log(detached) if on_log is not None else None
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss.detach(), psnr, metrics

    return step

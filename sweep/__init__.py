"""run.py's own parts: the queue (tasks at once per device, stop signals, the sweep record), the launchers (local and SLURM jobs, their status), the demo's profile and
summary, and the sweep-end overlay of the sets' transformed histograms. Above util/ and
components/, below run.py; nothing but run.py (and the tests) imports them."""

import os

# No downloads at test time: every Hugging Face client must stay offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # small networks: oversubscribed OpenMP threads are 40x slower

import torch  # noqa: E402

torch.set_num_threads(1)

"""The reference architecture: base manifests (k8s/), the app (app/), variants, rendering, and the targets."""

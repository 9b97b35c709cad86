"""The reference architecture: base manifests (manifests/), the app (app/), variants, rendering, and the targets."""

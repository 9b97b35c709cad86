"""The Kubernetes target: the rendered objects on a real cluster reached through a kubeconfig."""

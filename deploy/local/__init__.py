"""The local target: the rendered manifests interpreted on one machine (a tiny kubelet + kube-proxy)."""

"""The HorizontalPodAutoscaler: a pure autoscaling/v2 decision core and the local controller loop."""

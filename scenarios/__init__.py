"""Traffic profiles: specs, the catalogue, pure load shapes, the Locust adapter and the driver."""

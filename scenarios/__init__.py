"""Traffic profiles: specs, the catalogue, pure load shapes and the plan; the drive stage in `drive/`."""

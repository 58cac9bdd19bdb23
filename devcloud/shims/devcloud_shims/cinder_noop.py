"""A Cinder volume driver that stores nothing.

No block storage exists on a developer machine. This driver answers every
data-path call successfully and reports a large, fixed pool, so Cinder's API,
scheduler, quotas and usage accounting run for real while volumes are only
database rows. It deliberately keeps no state of its own.
"""

from cinder.common import constants
from cinder.volume import driver

# 100 TiB: large enough that capacity never limits a demo, small enough to look like a real pool.
POOL_CAPACITY_GB = 102400


class NoopVolumeDriver(driver.VolumeDriver):
    """Every operation succeeds; nothing is written anywhere."""

    VERSION = "1.0.0"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stats = {}

    def do_setup(self, context):
        pass

    def check_for_setup_error(self):
        pass

    def _update_volume_stats(self):
        name = self.configuration.safe_get("volume_backend_name") or "devcloud"
        self._stats = {
            "volume_backend_name": name,
            "vendor_name": "devcloud",
            "driver_version": self.VERSION,
            "storage_protocol": constants.ISCSI,
            "total_capacity_gb": POOL_CAPACITY_GB,
            "free_capacity_gb": POOL_CAPACITY_GB,
            "reserved_percentage": 0,
            "thin_provisioning_support": False,
            "thick_provisioning_support": True,
            "multiattach": True,
            "QoS_support": False,
        }

    def create_volume(self, volume):
        return None

    def create_volume_from_snapshot(self, volume, snapshot):
        return None

    def create_cloned_volume(self, volume, src_vref):
        return None

    def extend_volume(self, volume, new_size):
        pass

    def delete_volume(self, volume):
        pass

    def create_snapshot(self, snapshot):
        return None

    def delete_snapshot(self, snapshot):
        pass

    def ensure_export(self, context, volume):
        pass

    def create_export(self, context, volume, connector):
        pass

    def remove_export(self, context, volume):
        pass

    def initialize_connection(self, volume, connector, **kwargs):
        return {
            "driver_volume_type": "iscsi",
            "data": {
                "target_discovered": False,
                "target_portal": "127.0.0.1:3260",
                "target_iqn": f"iqn.2010-10.org.devcloud:{volume.id}",
                "target_lun": 0,
                "volume_id": volume.id,
                "access_mode": "rw",
            },
        }

    def terminate_connection(self, volume, connector, **kwargs):
        pass

    def copy_image_to_volume(self, context, volume, image_service, image_id, disable_sparse=False):
        pass

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        pass

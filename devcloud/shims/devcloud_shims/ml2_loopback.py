"""An ML2 mechanism driver that binds every port without an agent.

Without L2 agents no stock mechanism driver can bind a port, and Nova then
puts the server into ERROR. devcloud has no data plane to wire up, so this
driver accepts the first segment it is offered and marks the port ACTIVE. The
network, subnet, port, security group, router and quota logic all stays
Neutron's own.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class LoopbackMechanismDriver(api.MechanismDriver):
    """Binds any port on any segment, as a VIF nobody plugs."""

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OTHER,
                {portbindings.CAP_PORT_FILTER: True},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return

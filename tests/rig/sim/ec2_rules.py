"""EC2's rules that moto lacks, patched into moto's models and responses.

EC2's rules that moto lacks.
"""

import os
import time

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.ec2.models.elastic_block_store import EBSBackend, Volume, VolumeAttachment
from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces

from . import hypervisor
from . import state


class RigEC2Error(EC2ClientError):
    def __init__(self, code, message):
        super().__init__(code, message)


_orig_attach_volume = EBSBackend.attach_volume


_orig_detach_volume = EBSBackend.detach_volume


_orig_modify_volume = EBSBackend.modify_volume


_orig_delete_volume = EBSBackend.delete_volume


_orig_create_volume = EBSBackend.create_volume


_orig_attach_eni = NetworkInterfaceBackend.attach_network_interface


_orig_detach_eni = NetworkInterfaceBackend.detach_network_interface


def check_attachment_limit(instance):
    # Volumes and interfaces share the instance's attachment slots (Nitro).
    sim = state.INSTANCES.get(instance.id)
    limit = sim.attachment_limit if sim else 28
    if len(instance.block_device_mapping) + len(instance.nics) >= limit:
        raise RigEC2Error(
            "AttachmentLimitExceeded",
            f"Instance {instance.id} has reached its attachment limit of {limit}",
        )


def attach_volume(self, volume_id, instance_id, device_path, delete_on_termination=False):
    volume = self.get_volume(volume_id)
    instance = self.get_instance(instance_id)
    if volume.status == "creating":
        raise RigEC2Error("IncorrectState", f"vol '{volume_id}' is not 'available'.")
    if volume.attachment is not None:
        raise RigEC2Error(
            "VolumeInUse", f"{volume_id} is already attached to an instance"
        )
    if volume.zone.name != instance.placement.zone:
        raise RigEC2Error(
            "InvalidVolume.ZoneMismatch",
            f"The volume '{volume_id}' is not in the same availability zone as instance '{instance_id}'",
        )
    if device_path in instance.block_device_mapping:
        raise RigEC2Error(
            "InvalidParameterValue",
            f"Invalid value '{device_path}' for unixDevice. Attachment point {device_path} is already in use",
        )
    check_attachment_limit(instance)
    att = _orig_attach_volume(self, volume_id, instance_id, device_path, delete_on_termination)
    sim = state.INSTANCES.get(instance_id)
    att.ready_at = time.monotonic() + state.CONFIG["attach_delay"]
    if sim is not None:
        sim.plug_volume(volume, device_path, state.CONFIG["attach_delay"])
    return att


def detach_volume(self, volume_id, instance_id, device_path):
    volume = self.get_volume(volume_id)
    if not instance_id and volume.attachment is not None:
        # EC2 accepts DetachVolume without InstanceId; moto answers 500.
        instance_id = volume.attachment.instance.id
    sim = state.INSTANCES.get(instance_id)
    if sim is not None:
        sim.unplug_volume(volume_id)
    return _orig_detach_volume(self, volume_id, instance_id, device_path)


def modify_volume(self, volume_id, target_size=None, *args, **kwargs):
    volume = self.get_volume(volume_id)
    last = getattr(volume, "last_modified", None)
    if last is not None and time.monotonic() - last < state.CONFIG["modify_cooldown"]:
        # EC2 allows one modification per volume every six hours.
        raise RigEC2Error(
            "VolumeModificationRateExceeded",
            "You've reached the maximum modification rate per volume limit. "
            "Wait at least 6 hours between modifications per EBS volume.",
        )
    volume.last_modified = time.monotonic()
    if target_size is not None and int(target_size) < volume.size:
        raise RigEC2Error(
            "InvalidParameterValue",
            f"New size cannot be smaller than existing size {volume.size}",
        )
    result = _orig_modify_volume(self, volume_id, target_size, *args, **kwargs)
    if target_size is not None:
        hypervisor.grow_backing_file(volume)
    return result


def delete_volume(self, volume_id):
    result = _orig_delete_volume(self, volume_id)
    path = hypervisor.backing_file(volume_id)
    if os.path.exists(path):
        os.unlink(path)
    return result


def create_volume(self, *args, **kwargs):
    volume = _orig_create_volume(self, *args, **kwargs)
    volume.ready_at = time.monotonic() + state.CONFIG["create_delay"]
    return volume


def attach_eni(self, eni_id, instance_id, device_index):
    eni = self.get_network_interface(eni_id)
    instance = self.get_instance(instance_id)
    if eni.instance is not None:
        raise RigEC2Error(
            "InvalidNetworkInterface.InUse",
            f"Interface: [{eni_id}] in use.",
        )
    if eni.subnet.availability_zone != instance.placement.zone:
        raise RigEC2Error(
            "InvalidParameterCombination",
            f"The network interface {eni_id} and instance {instance_id} are not in the same availability zone",
        )
    if int(device_index) in instance.nics:
        raise RigEC2Error(
            "InvalidParameterValue",
            f"Instance '{instance_id}' already has an interface attached at device index '{device_index}'.",
        )
    check_attachment_limit(instance)
    att = _orig_attach_eni(self, eni_id, instance_id, device_index)
    sim = state.INSTANCES.get(instance_id)
    if sim is not None:
        sim.plug_interface(eni, int(device_index), state.CONFIG["attach_delay"])
    return att


def detach_eni(self, attachment_id):
    for eni in self.enis.values():
        if eni.attachment_id == attachment_id and eni.instance is not None:
            sim = state.INSTANCES.get(eni.instance.id)
            if sim is not None:
                sim.unplug_interface(eni.id)
    return _orig_detach_eni(self, attachment_id)


def volume_attachment_delete_on_termination(self):
    # EC2 reports DeleteOnTermination in DescribeVolumes' attachments; moto
    # keeps it only in the instance's block device mapping.
    bdm = self.instance.block_device_mapping.get(self.device)
    return bool(bdm and bdm.delete_on_termination)


_orig_modify_eni_attribute_response = ElasticNetworkInterfaces.modify_network_interface_attribute


def modify_eni_attribute_response(self):
    # moto ignores Attachment.DeleteOnTermination; EC2 sets it.
    attachment_id = self._get_param("Attachment.AttachmentId")
    if attachment_id:
        eni = self.ec2_backend.get_network_interface(self._get_param("NetworkInterfaceId"))
        if eni.attachment_id != attachment_id:
            raise RigEC2Error(
                "InvalidAttachmentID.NotFound",
                f"The attachment ID '{attachment_id}' does not exist",
            )
        eni.delete_on_termination = self._get_param("Attachment.DeleteOnTermination") in (True, "true")
    return _orig_modify_eni_attribute_response(self)


def attachment_status_get(self):
    if self._status == "attached" and time.monotonic() < getattr(self, "ready_at", 0):
        return "attaching"
    return self._status


def attachment_status_set(self, value):
    self._status = value


def volume_status_get(self):
    if time.monotonic() < getattr(self, "ready_at", 0):
        return "creating"
    return "in-use" if self.attachment else "available"


# ClientToken idempotency for CreateVolume: the same token returns the same
# volume, as EC2 does, so a crash-and-retry never makes a second volume.
CLIENT_TOKENS = {}


_orig_create_volume_response = ElasticBlockStore.create_volume


def create_volume_response(self):
    token = self._get_param("ClientToken")
    # EC2 compares the parameters of a repeated token: different ones are
    # IdempotentParameterMismatch, not a second volume.
    params = (self._get_param("AvailabilityZone"), self._get_param("Size"),
              self._get_param("VolumeType"), self._get_param("SnapshotId"))
    if token and token in CLIENT_TOKENS:
        from moto.core.responses import ActionResult

        volume_id, first_params = CLIENT_TOKENS[token]
        if volume_id in self.ec2_backend.volumes:
            if params != first_params:
                raise RigEC2Error(
                    "IdempotentParameterMismatch",
                    "The client token you have provided is associated with a resource "
                    "that is already created with different parameters",
                )
            return ActionResult(self.ec2_backend.volumes[volume_id])
    result = _orig_create_volume_response(self)
    if token:
        CLIENT_TOKENS[token] = (newest_volume_id(self.ec2_backend), params)
    return result


def newest_volume_id(be):
    return max(be.volumes.values(), key=lambda v: v.create_time).id


def tags_of_resource(self):
    # moto finds a resource's tags by scanning every tag of the account
    # (describe_tags with a resource-id filter), once per resource a
    # Describe* call filters by tag: with a few hundred tagged instances a
    # DescribeVolumes took half a second, and the rig's emulator time
    # measured moto, not the job. The same answer, from the tag table's
    # entry for this resource.
    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id)
    if not tags:
        return []
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind}
            for k, v in list(tags.items())]


TaggedEC2Resource.get_tags = tags_of_resource


EBSBackend.attach_volume = attach_volume


EBSBackend.detach_volume = detach_volume


EBSBackend.modify_volume = modify_volume


EBSBackend.delete_volume = delete_volume


EBSBackend.create_volume = create_volume


NetworkInterfaceBackend.attach_network_interface = attach_eni


NetworkInterfaceBackend.detach_network_interface = detach_eni


VolumeAttachment.delete_on_termination = property(volume_attachment_delete_on_termination)


ElasticNetworkInterfaces.modify_network_interface_attribute = modify_eni_attribute_response


VolumeAttachment.status = property(attachment_status_get, attachment_status_set)


Volume.status = property(volume_status_get)


ElasticBlockStore.create_volume = create_volume_response

# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ebs_grow_global_optspecs
    string join \n dry-run output= region= timeout= run-dir= v/verbose q/quiet metrics-file= sys-block-dir= dev-dir= by-id-dir= h/help V/version
end

function __fish_ebs_grow_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ebs_grow_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ebs_grow_using_subcommand
    set -l cmd (__fish_ebs_grow_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -s V -l version -d 'Print version'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -f -a "init" -d 'Create the filesystem behind the mountpoint (first boot), mount it by UUID and add it to fstab. A no-op on an initialised mountpoint'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -f -a "check" -d 'One look at the mountpoint: grow it if space runs low (the timer\'s job). No AWS call while there is room'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -f -a "status" -d 'What the mountpoint is made of: devices, volumes, sizes, usage'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -f -a "teardown" -d 'Unmount, then detach and delete the volumes ebs-grow created for the mountpoint on this instance, and nothing else'
complete -c ebs-grow -n "__fish_ebs_grow_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -s m -l mountpoint -d 'The mountpoint to manage' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l config -d 'JSON configuration file [default: /etc/mooring/ebs-grow/<escaped mountpoint>.json, if it exists]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l fs -d 'Filesystem [default: btrfs]' -r -f -a "btrfs\t''
lvm.ext4\t'ext4 on an LVM logical volume spanning the volumes'
xfs\t''
ext4\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l strategy -d 'Growth strategy [default: add for btrfs and lvm.ext4, modify for xfs and ext4]' -r -f -a "add\t'Add a new volume to the filesystem (btrfs, lvm.ext4)'
modify\t'Grow the backing volume in place with Elastic Volumes; fall back to adding one when the volume cannot be modified yet (btrfs, lvm.ext4)'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l initial-device -d 'init: use this device (path or volume ID) instead of creating a volume; it must be blank' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l initial-size-gib -d 'init: size of the volume to create, GiB [default: 100]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l volume-type -d 'EBS volume type for new volumes [default: gp3]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l iops -d 'Provisioned IOPS for new volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l throughput -d 'Provisioned throughput (MiB/s) for new gp3 volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l encrypted -d 'Encrypt new volumes [default: true]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l kms-key-id -d 'KMS key for encryption [default: the account\'s EBS default key]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l max-volumes -d 'Most volumes the filesystem may span [default: 16]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l max-total-size-gib -d 'Largest total size of the filesystem\'s volumes, GiB [default: 8000]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l max-volume-size-gib -d 'Largest single volume, GiB [default: 1500]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l attachment-limit -d 'Attachment slots of the instance type (volumes + interfaces) [default: 28, Nitro]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l used-percent -d 'Grow when this much is used, percent [default: by device count, see threshold_ladder]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l min-free-gib -d 'Grow when less than this is free, GiB [default: 1]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l min-free-inodes-percent -d 'Grow when fewer inodes than this are free, percent [default: 5]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l interval-seconds -d 'Seconds between checks: the timer\'s period [default: 60]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l growth-seconds -d 'Seconds a growth takes, at worst [default: 120]. With the interval, the horizon within which the fill rate must not fill the disk' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l balance-metadata -d 'Run a metadata balance after adding a btrfs device [default: false]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l fstab -d 'fstab to add the mount to [default: /etc/fstab]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l state-dir -d 'Directory for samples and the growth journal [default: /var/lib/mooring]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l tag -d 'Extra tag for new volumes, KEY=VALUE (repeatable)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -s m -l mountpoint -d 'The mountpoint to manage' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l config -d 'JSON configuration file [default: /etc/mooring/ebs-grow/<escaped mountpoint>.json, if it exists]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l fs -d 'Filesystem [default: btrfs]' -r -f -a "btrfs\t''
lvm.ext4\t'ext4 on an LVM logical volume spanning the volumes'
xfs\t''
ext4\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l strategy -d 'Growth strategy [default: add for btrfs and lvm.ext4, modify for xfs and ext4]' -r -f -a "add\t'Add a new volume to the filesystem (btrfs, lvm.ext4)'
modify\t'Grow the backing volume in place with Elastic Volumes; fall back to adding one when the volume cannot be modified yet (btrfs, lvm.ext4)'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l initial-device -d 'init: use this device (path or volume ID) instead of creating a volume; it must be blank' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l initial-size-gib -d 'init: size of the volume to create, GiB [default: 100]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l volume-type -d 'EBS volume type for new volumes [default: gp3]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l iops -d 'Provisioned IOPS for new volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l throughput -d 'Provisioned throughput (MiB/s) for new gp3 volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l encrypted -d 'Encrypt new volumes [default: true]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l kms-key-id -d 'KMS key for encryption [default: the account\'s EBS default key]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l max-volumes -d 'Most volumes the filesystem may span [default: 16]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l max-total-size-gib -d 'Largest total size of the filesystem\'s volumes, GiB [default: 8000]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l max-volume-size-gib -d 'Largest single volume, GiB [default: 1500]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l attachment-limit -d 'Attachment slots of the instance type (volumes + interfaces) [default: 28, Nitro]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l used-percent -d 'Grow when this much is used, percent [default: by device count, see threshold_ladder]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l min-free-gib -d 'Grow when less than this is free, GiB [default: 1]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l min-free-inodes-percent -d 'Grow when fewer inodes than this are free, percent [default: 5]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l interval-seconds -d 'Seconds between checks: the timer\'s period [default: 60]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l growth-seconds -d 'Seconds a growth takes, at worst [default: 120]. With the interval, the horizon within which the fill rate must not fill the disk' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l balance-metadata -d 'Run a metadata balance after adding a btrfs device [default: false]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l fstab -d 'fstab to add the mount to [default: /etc/fstab]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l state-dir -d 'Directory for samples and the growth journal [default: /var/lib/mooring]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l tag -d 'Extra tag for new volumes, KEY=VALUE (repeatable)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -s m -l mountpoint -d 'The mountpoint to manage' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l config -d 'JSON configuration file [default: /etc/mooring/ebs-grow/<escaped mountpoint>.json, if it exists]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l fs -d 'Filesystem [default: btrfs]' -r -f -a "btrfs\t''
lvm.ext4\t'ext4 on an LVM logical volume spanning the volumes'
xfs\t''
ext4\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l strategy -d 'Growth strategy [default: add for btrfs and lvm.ext4, modify for xfs and ext4]' -r -f -a "add\t'Add a new volume to the filesystem (btrfs, lvm.ext4)'
modify\t'Grow the backing volume in place with Elastic Volumes; fall back to adding one when the volume cannot be modified yet (btrfs, lvm.ext4)'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l initial-device -d 'init: use this device (path or volume ID) instead of creating a volume; it must be blank' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l initial-size-gib -d 'init: size of the volume to create, GiB [default: 100]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l volume-type -d 'EBS volume type for new volumes [default: gp3]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l iops -d 'Provisioned IOPS for new volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l throughput -d 'Provisioned throughput (MiB/s) for new gp3 volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l encrypted -d 'Encrypt new volumes [default: true]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l kms-key-id -d 'KMS key for encryption [default: the account\'s EBS default key]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l max-volumes -d 'Most volumes the filesystem may span [default: 16]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l max-total-size-gib -d 'Largest total size of the filesystem\'s volumes, GiB [default: 8000]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l max-volume-size-gib -d 'Largest single volume, GiB [default: 1500]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l attachment-limit -d 'Attachment slots of the instance type (volumes + interfaces) [default: 28, Nitro]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l used-percent -d 'Grow when this much is used, percent [default: by device count, see threshold_ladder]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l min-free-gib -d 'Grow when less than this is free, GiB [default: 1]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l min-free-inodes-percent -d 'Grow when fewer inodes than this are free, percent [default: 5]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l interval-seconds -d 'Seconds between checks: the timer\'s period [default: 60]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l growth-seconds -d 'Seconds a growth takes, at worst [default: 120]. With the interval, the horizon within which the fill rate must not fill the disk' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l balance-metadata -d 'Run a metadata balance after adding a btrfs device [default: false]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l fstab -d 'fstab to add the mount to [default: /etc/fstab]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l state-dir -d 'Directory for samples and the growth journal [default: /var/lib/mooring]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l tag -d 'Extra tag for new volumes, KEY=VALUE (repeatable)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -s m -l mountpoint -d 'The mountpoint to manage' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l config -d 'JSON configuration file [default: /etc/mooring/ebs-grow/<escaped mountpoint>.json, if it exists]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l fs -d 'Filesystem [default: btrfs]' -r -f -a "btrfs\t''
lvm.ext4\t'ext4 on an LVM logical volume spanning the volumes'
xfs\t''
ext4\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l strategy -d 'Growth strategy [default: add for btrfs and lvm.ext4, modify for xfs and ext4]' -r -f -a "add\t'Add a new volume to the filesystem (btrfs, lvm.ext4)'
modify\t'Grow the backing volume in place with Elastic Volumes; fall back to adding one when the volume cannot be modified yet (btrfs, lvm.ext4)'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l initial-device -d 'init: use this device (path or volume ID) instead of creating a volume; it must be blank' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l initial-size-gib -d 'init: size of the volume to create, GiB [default: 100]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l volume-type -d 'EBS volume type for new volumes [default: gp3]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l iops -d 'Provisioned IOPS for new volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l throughput -d 'Provisioned throughput (MiB/s) for new gp3 volumes' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l encrypted -d 'Encrypt new volumes [default: true]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l kms-key-id -d 'KMS key for encryption [default: the account\'s EBS default key]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l max-volumes -d 'Most volumes the filesystem may span [default: 16]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l max-total-size-gib -d 'Largest total size of the filesystem\'s volumes, GiB [default: 8000]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l max-volume-size-gib -d 'Largest single volume, GiB [default: 1500]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l attachment-limit -d 'Attachment slots of the instance type (volumes + interfaces) [default: 28, Nitro]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l used-percent -d 'Grow when this much is used, percent [default: by device count, see threshold_ladder]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l min-free-gib -d 'Grow when less than this is free, GiB [default: 1]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l min-free-inodes-percent -d 'Grow when fewer inodes than this are free, percent [default: 5]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l interval-seconds -d 'Seconds between checks: the timer\'s period [default: 60]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l growth-seconds -d 'Seconds a growth takes, at worst [default: 120]. With the interval, the horizon within which the fill rate must not fill the disk' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l balance-metadata -d 'Run a metadata balance after adding a btrfs device [default: false]' -r -f -a "true\t''
false\t''"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l fstab -d 'fstab to add the mount to [default: /etc/fstab]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l state-dir -d 'Directory for samples and the growth journal [default: /var/lib/mooring]' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l tag -d 'Extra tag for new volumes, KEY=VALUE (repeatable)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l yes -d 'Really do it'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand teardown" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand help; and not __fish_seen_subcommand_from init check status teardown help" -f -a "init" -d 'Create the filesystem behind the mountpoint (first boot), mount it by UUID and add it to fstab. A no-op on an initialised mountpoint'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand help; and not __fish_seen_subcommand_from init check status teardown help" -f -a "check" -d 'One look at the mountpoint: grow it if space runs low (the timer\'s job). No AWS call while there is room'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand help; and not __fish_seen_subcommand_from init check status teardown help" -f -a "status" -d 'What the mountpoint is made of: devices, volumes, sizes, usage'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand help; and not __fish_seen_subcommand_from init check status teardown help" -f -a "teardown" -d 'Unmount, then detach and delete the volumes ebs-grow created for the mountpoint on this instance, and nothing else'
complete -c ebs-grow -n "__fish_ebs_grow_using_subcommand help; and not __fish_seen_subcommand_from init check status teardown help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

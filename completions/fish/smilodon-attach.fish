# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_smilodon_attach_global_optspecs
    string join \n dry-run output= region= timeout= run-dir= v/verbose q/quiet metrics-file= sys-block-dir= dev-dir= by-id-dir= filter= node-id-tag= mountpoint= mkfs= mount-options= owner= when-none= exec-condition env-file= write-node-id= node-id-offset= attachment-limit= address-wait= h/help V/version
end

function __fish_smilodon_attach_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_smilodon_attach_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_smilodon_attach_using_subcommand
    set -l cmd (__fish_smilodon_attach_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l filter -l filters -d 'EC2 filters the volumes and ENIs must match, in smilodon\'s form (\'tag:Env=dev,tag:Service=etcd,tag-key=Project\') or the AWS CLI\'s (\'Name=tag:Service,Values=etcd\'); repeatable' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l node-id-tag -d 'The tag whose value pairs a volume with an ENI' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l mountpoint -d 'Mount the volume here (by filesystem UUID)' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l mkfs -d 'Make this filesystem on the volume if, and only if, it is blank' -r -f -a "btrfs\t''
xfs\t''
ext4\t''"
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l mount-options -d 'Mount options' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l owner -d 'Give the mounted filesystem\'s root to USER[:GROUP] (the service\'s user); empty: leave it' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l when-none -d 'When no pair is free: fail (exit 6) or idle (exit 8: a spare)' -r -f -a "fail\t'Exit 6: the unit fails (and Restart= may try again later)'
idle\t'Exit 8: this instance is a spare; nothing is attached'"
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l env-file -d 'The environment file the node\'s service reads' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l write-node-id -d 'Also write the NodeID (plus --node-id-offset) to this file, e.g. ZooKeeper\'s myid on the data volume' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l node-id-offset -d 'Added to a numeric NodeID before writing it (myid starts at 1)' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l attachment-limit -d 'Attachment slots of this instance type, shared by volumes and ENIs' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l address-wait -d 'Wait up to this long for the ENI\'s address to be on its interface before writing NODE_IP (exit 4 if it never comes); 0: do not wait' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -l exec-condition -d 'Exit as systemd\'s ExecCondition= expects: 0 when the pair is in place, 1 when idle (the service is skipped, not failed), 255 on any error (the unit fails; the log names the error)'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -s V -l version -d 'Print version'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -f -a "release" -d 'Stop the node\'s service, unmount, detach the pair this instance holds and see it available, when the group terminates this instance (ExecStop= of mooring-smilodon-release@.service); flags before the command'
complete -c smilodon-attach -n "__fish_smilodon_attach_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l when -d 'leaving: only when the group terminates this instance (IMDS); always: now (by hand)' -r -f -a "leaving\t'Only when the group is terminating this instance (IMDS says `Terminated`): a reboot or a stop of the service leaves nothing'
always\t'Now, whatever the group intends (by hand)'"
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l stop-unit -d 'Stop this unit first (repeatable): the service that uses what the step takes away' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand release" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand help; and not __fish_seen_subcommand_from release help" -f -a "release" -d 'Stop the node\'s service, unmount, detach the pair this instance holds and see it available, when the group terminates this instance (ExecStop= of mooring-smilodon-release@.service); flags before the command'
complete -c smilodon-attach -n "__fish_smilodon_attach_using_subcommand help; and not __fish_seen_subcommand_from release help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

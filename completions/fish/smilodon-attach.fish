complete -c smilodon-attach -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c smilodon-attach -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c smilodon-attach -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c smilodon-attach -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c smilodon-attach -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c smilodon-attach -l dev-dir -d 'Directory of device nodes' -r -F
complete -c smilodon-attach -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c smilodon-attach -l filter -l filters -d 'EC2 filters the volumes and ENIs must match, in smilodon\'s form (\'tag:Env=dev,tag:Service=etcd,tag-key=Project\') or the AWS CLI\'s (\'Name=tag:Service,Values=etcd\'); repeatable' -r
complete -c smilodon-attach -l node-id-tag -d 'The tag whose value pairs a volume with an ENI' -r
complete -c smilodon-attach -l mountpoint -d 'Mount the volume here (by filesystem UUID)' -r -F
complete -c smilodon-attach -l mkfs -d 'Make this filesystem on the volume if, and only if, it is blank' -r -f -a "btrfs\t''
xfs\t''
ext4\t''"
complete -c smilodon-attach -l mount-options -d 'Mount options' -r
complete -c smilodon-attach -l owner -d 'Give the mounted filesystem\'s root to USER[:GROUP] (the service\'s user); empty: leave it' -r
complete -c smilodon-attach -l when-none -d 'When no pair is free: fail (exit 6) or idle (exit 8: a spare)' -r -f -a "fail\t'Exit 6: the unit fails (and Restart= may try again later)'
idle\t'Exit 8: this instance is a spare; nothing is attached'"
complete -c smilodon-attach -l env-file -d 'The environment file the node\'s service reads' -r -F
complete -c smilodon-attach -l write-node-id -d 'Also write the NodeID (plus --node-id-offset) to this file, e.g. ZooKeeper\'s myid on the data volume' -r -F
complete -c smilodon-attach -l node-id-offset -d 'Added to a numeric NodeID before writing it (myid starts at 1)' -r
complete -c smilodon-attach -l attachment-limit -d 'Attachment slots of this instance type, shared by volumes and ENIs' -r
complete -c smilodon-attach -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c smilodon-attach -s v -l verbose -d 'More log detail (repeat for more)'
complete -c smilodon-attach -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c smilodon-attach -l exec-condition -d 'Exit as systemd\'s ExecCondition= expects: 0 when the pair is in place, 1 when idle (the service is skipped, not failed), 255 on any error (the unit fails; the log names the error)'
complete -c smilodon-attach -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smilodon-attach -s V -l version -d 'Print version'

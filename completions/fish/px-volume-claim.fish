complete -c px-volume-claim -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c px-volume-claim -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c px-volume-claim -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c px-volume-claim -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c px-volume-claim -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c px-volume-claim -l dev-dir -d 'Directory of device nodes' -r -F
complete -c px-volume-claim -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c px-volume-claim -l cluster-id -d 'The cluster\'s ID [default: from --config, else the instance\'s user-data (px-cluster.clusterid)]' -r
complete -c px-volume-claim -l template -d 'A template, VOLUME_ID:MAX_COUNT (repeatable; with --cluster-id)' -r
complete -c px-volume-claim -l config -d 'A JSON configuration file: {"cluster-id": ..., "templates": [{"template": "vol-...", "max-count": N}]}' -r -F
complete -c px-volume-claim -l wait-released -d 'How long to wait for a volume still attached to a shutting-down instance to come free, in seconds (within --timeout)' -r
complete -c px-volume-claim -l env-file -d 'The environment file the storage service reads' -r -F
complete -c px-volume-claim -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c px-volume-claim -s v -l verbose -d 'More log detail (repeat for more)'
complete -c px-volume-claim -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c px-volume-claim -s h -l help -d 'Print help (see more with \'--help\')'
complete -c px-volume-claim -s V -l version -d 'Print version'

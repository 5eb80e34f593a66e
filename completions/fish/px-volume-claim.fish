# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_px_volume_claim_global_optspecs
    string join \n dry-run output= region= timeout= run-dir= v/verbose q/quiet metrics-file= sys-block-dir= dev-dir= by-id-dir= cluster-id= template= config= wait-released= env-file= h/help V/version
end

function __fish_px_volume_claim_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_px_volume_claim_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_px_volume_claim_using_subcommand
    set -l cmd (__fish_px_volume_claim_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l cluster-id -d 'The cluster\'s ID [default: from --config, else the instance\'s user-data (px-cluster.clusterid)]' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l template -d 'A template, VOLUME_ID:MAX_COUNT (repeatable; with --cluster-id)' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l config -d 'A JSON configuration file: {"cluster-id": ..., "templates": [{"template": "vol-...", "max-count": N}]}' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l wait-released -d 'How long to wait for a volume still attached to a shutting-down instance to come free, in seconds (within --timeout)' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l env-file -d 'The environment file the storage service reads' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -s V -l version -d 'Print version'
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -f -a "release" -d 'Detach the volumes this instance claimed, once the storage service has stopped on an instance the group terminates (ExecStop= of mooring-px-release.service); flags before the command'
complete -c px-volume-claim -n "__fish_px_volume_claim_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l when -d 'leaving: only when the group terminates this instance (IMDS); always: now (by hand)' -r -f -a "leaving\t'Only when the group is terminating this instance (IMDS says `Terminated`): a reboot or a stop of the service leaves nothing'
always\t'Now, whatever the group intends (by hand)'"
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l stop-unit -d 'Stop this unit first (repeatable): the service that uses what the step takes away' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l sys-block-dir -d 'sysfs block directory scanned for NVMe serials' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l dev-dir -d 'Directory of device nodes' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l by-id-dir -d 'udev\'s by-id directory' -r -F
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand release" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand help; and not __fish_seen_subcommand_from release help" -f -a "release" -d 'Detach the volumes this instance claimed, once the storage service has stopped on an instance the group terminates (ExecStop= of mooring-px-release.service); flags before the command'
complete -c px-volume-claim -n "__fish_px_volume_claim_using_subcommand help; and not __fish_seen_subcommand_from release help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

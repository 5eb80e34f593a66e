# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ecs_node_guard_global_optspecs
    string join \n dry-run output= region= timeout= run-dir= v/verbose q/quiet metrics-file= h/help V/version
end

function __fish_ecs_node_guard_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ecs_node_guard_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ecs_node_guard_using_subcommand
    set -l cmd (__fish_ecs_node_guard_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -s V -l version -d 'Print version'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -f -a "configure" -d 'Write ECS_CLUSTER into ecs.config, set the Name tag, turn termination protection off (ExecStartPre= of ecs.service)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -f -a "check" -d 'Check disk and registration; have a persistently broken host replaced (from a timer)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -f -a "sweep" -d 'Mark the group\'s never-registered instances Unhealthy, deregister container instances whose EC2 instance is gone'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -f -a "leave" -d 'When the group terminates this instance: drain its container instance, then deregister it (ExecStop= of mooring-ecs-drain.service)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l cluster -d 'The ECS cluster [default: the instance\'s tag --cluster-tag, from instance-metadata tags]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l cluster-tag -d 'The instance tag that names the cluster when --cluster is not given' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l ecs-config -d 'The agent\'s configuration file' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l name -d 'Set the Name tag to this, with {cluster} and {instance_id} replaced (e.g. "{cluster} ECS {instance_id}"); empty: leave it' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l termination-protection-off -d 'Make sure termination protection is off (it keeps the group from replacing the instance)' -r -f -a "true\t''
false\t''"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand configure" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l docker-root -d 'Docker\'s data root' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l max-disk-percent -d 'Unhealthy above this share of bytes used (percent)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l max-inode-percent -d 'Unhealthy above this share of inodes used (percent)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l introspection-url -d 'The ECS agent\'s introspection endpoint' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l registration-grace -d 'How long after the first check of this boot the agent may take to register, in seconds' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l failures -d 'Act only after this many consecutive failed checks' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l drain-timeout -d 'How long a drain may take, in seconds (within --timeout)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l max-unhealthy-share -d 'The circuit breaker: no action when more than this share of the group (0-1) would be unhealthy or leaving' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l drain -d 'Drain the container instance (ECS DRAINING) before asking for the replacement'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l respect-group-grace -d 'Let the group\'s health-check grace period delay the replacement (the guard keeps a grace of its own)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l group-name -d 'The Auto Scaling group [default: this instance\'s]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l cluster -d 'The ECS cluster' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l registration-grace -d 'An instance launched longer ago than this (seconds) must be registered' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l max-unhealthy-share -d 'The circuit breaker: no action when more than this share of the group (0-1) would be unhealthy or leaving' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l respect-group-grace -d 'Let the group\'s health-check grace period delay the replacement (the guard keeps a grace of its own)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand sweep" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l cluster -d 'The ECS cluster [default: ECS_CLUSTER in --ecs-config]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l ecs-config -d 'The agent\'s configuration file (for its ECS_CLUSTER)' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l drain-timeout -d 'How long the drain may take, in seconds (within --timeout)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l when -d 'leaving: only when the group terminates this instance (IMDS); always: now (by hand)' -r -f -a "leaving\t'Only when the group is terminating this instance (IMDS says `Terminated`): a reboot or a stop of the service leaves nothing'
always\t'Now, whatever the group intends (by hand)'"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand leave" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand help; and not __fish_seen_subcommand_from configure check sweep leave help" -f -a "configure" -d 'Write ECS_CLUSTER into ecs.config, set the Name tag, turn termination protection off (ExecStartPre= of ecs.service)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand help; and not __fish_seen_subcommand_from configure check sweep leave help" -f -a "check" -d 'Check disk and registration; have a persistently broken host replaced (from a timer)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand help; and not __fish_seen_subcommand_from configure check sweep leave help" -f -a "sweep" -d 'Mark the group\'s never-registered instances Unhealthy, deregister container instances whose EC2 instance is gone'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand help; and not __fish_seen_subcommand_from configure check sweep leave help" -f -a "leave" -d 'When the group terminates this instance: drain its container instance, then deregister it (ExecStop= of mooring-ecs-drain.service)'
complete -c ecs-node-guard -n "__fish_ecs_node_guard_using_subcommand help; and not __fish_seen_subcommand_from configure check sweep leave help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

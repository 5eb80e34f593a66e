# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mooring_leave_global_optspecs
    string join \n dry-run output= region= timeout= run-dir= v/verbose q/quiet metrics-file= h/help V/version
end

function __fish_mooring_leave_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mooring_leave_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mooring_leave_using_subcommand
    set -l cmd (__fish_mooring_leave_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -s V -l version -d 'Print version'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -f -a "watch" -d 'One look at the group\'s intent (IMDS only); if it is terminating this instance, run the leave steps and complete the lifecycle action (mooring-leave.timer)'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -f -a "complete" -d 'Complete this instance\'s termination lifecycle action (CONTINUE), if one waits'
complete -c mooring-leave -n "__fish_mooring_leave_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l now -d 'Run the steps and complete even when IMDS does not say the group is terminating this instance (by hand)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand complete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand help; and not __fish_seen_subcommand_from watch complete help" -f -a "watch" -d 'One look at the group\'s intent (IMDS only); if it is terminating this instance, run the leave steps and complete the lifecycle action (mooring-leave.timer)'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand help; and not __fish_seen_subcommand_from watch complete help" -f -a "complete" -d 'Complete this instance\'s termination lifecycle action (CONTINUE), if one waits'
complete -c mooring-leave -n "__fish_mooring_leave_using_subcommand help; and not __fish_seen_subcommand_from watch complete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

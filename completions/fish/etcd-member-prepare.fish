# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_etcd_member_prepare_global_optspecs
    string join \n dry-run output= region= timeout= run-dir= v/verbose q/quiet metrics-file= h/help V/version
end

function __fish_etcd_member_prepare_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_etcd_member_prepare_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_etcd_member_prepare_using_subcommand
    set -l cmd (__fish_etcd_member_prepare_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -s V -l version -d 'Print version'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "prepare" -d 'Decide bootstrap / join / restart and write the env file (ExecStartPre= of etcd.service)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "promote" -d 'Promote this member from learner to voting member once it has caught up (ExecStartPost= of etcd.service)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "leave" -d 'Leave the cluster when the group terminates this instance: hand over leadership, remove this member while quorum and --min-voting allow, move the data aside (ExecStop= of mooring-etcd-leave.service)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "tidy" -d 'On the leader only: remove one member whose instance is proven gone or that never started (etcd-member-tidy.timer)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "snapshot" -d 'On the leader only: stream a snapshot to S3 when the store moved since the newest one, keep --retain (etcd-member-snapshot.timer)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "snapshots" -d 'List this cluster\'s snapshots in S3, newest first'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "restore" -d 'By hand: bootstrap this instance from a chosen snapshot (run on every initial member with the same --from), with prepare\'s checks'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand prepare" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand promote" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l min-voting -d 'Never leave a cluster of fewer voting members than this' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l when -d 'leaving: only when the group terminates this instance (IMDS); always: now (by hand)' -r -f -a "leaving\t'Only when the group is terminating this instance (IMDS says `Terminated`): a reboot or a stop of the service leaves nothing'
always\t'Now, whatever the group intends (by hand)'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand leave" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l unstarted-grace -d 'Remove a member that was added but never started after this many seconds (as this leader saw it)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l quorum-loss-grace -d 'With no leader this long (and no quorum answering, and the silent members\' instances proven gone), a survivor saves a last snapshot and steps down so that the group restores (needs --snapshot-bucket)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l etcd-unit -d 'The unit that runs etcd (stopped and started again on a step-down)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand tidy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l retain -d 'How many snapshots to keep (the newest; older ones this tool made are deleted after an upload)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l scratch-dir -d 'Where the snapshot is written before it is uploaded [default: the data directory\'s parent]' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l part-size-mib -d 'Upload in parts of this many MiB above that size (5 or more)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand snapshots" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l peers -d 'Where the peers come from' -r -f -a "tag\t'Instances carrying the cluster tag'
asg\t'The instances of this instance\'s Auto Scaling group; a new cluster starts with the group\'s desired capacity'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l cluster-tag -d 'The instance tag that names the cluster' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l cluster -d 'The cluster\'s name [default: this instance\'s value of --cluster-tag, from instance-metadata tags]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l filter -d 'Extra EC2 filter for peers (repeatable; see the README\'s filter forms)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l initial-size -d 'How many members a new cluster starts with: bootstrap waits until this many peers are visible [default: 3; with --peers asg, the group\'s desired capacity]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l data-dir -d 'etcd\'s data directory (as etcd.service sets ETCD_DATA_DIR)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l env-file -d 'The environment file etcd.service reads' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l peer-scheme -d 'Scheme of the peer URLs (https: give the peer certificates to etcd)' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l client-scheme -d 'Scheme of the client URLs, the ones this tool asks etcd through' -r -f -a "http\t''
https\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l scheme-tag -d 'Instance tag whose value (http or https) overrides both schemes' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l peer-port -d 'Port of every member\'s peer URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l client-port -d 'Port of every member\'s client URL' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l cacert -d 'CA certificate (PEM) for the member API over https' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l cert -d 'Client certificate (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l key -d 'Client key (PEM) for the member API' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l learner -d 'Join as a learner and leave promotion to `promote` (serialises joins: etcd allows one learner at a time). Off: join as a voting member directly' -r -f -a "true\t''
false\t''"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l snapshot-bucket -d 'The S3 bucket of this cluster\'s snapshots (snapshot, snapshots)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l snapshot-prefix -d 'Where in the bucket: snapshots go under PREFIX/CLUSTER/' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l etcdctl -d 'etcdctl (etcd 3.4\'s; `snapshot restore` makes a restored member\'s data directory)' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l from -d 'The snapshot to restore: s3://BUCKET/KEY (`snapshots` lists them) or a file (`etcdctl snapshot save`\'s)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l output -d 'Format of the report printed on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object, for scripts'"
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l region -d 'AWS region [default: AWS_REGION, else the instance\'s region from IMDS]' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l timeout -d 'Give up after this many seconds (keep it below the unit\'s TimeoutStartSec)' -r
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l run-dir -d 'Directory for locks and state between runs' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l metrics-file -d 'Leave this run\'s numbers in FILE for node_exporter\'s textfile collector (replaced atomically after every run, failed ones too; not with --dry-run). Empty: none' -r -F
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l write-data-dir -d 'Also write ETCD_DATA_DIR into the env file'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l yes -d 'Restore even when the members recorded in the snapshot are not proven gone (a file records none): only once you know the old cluster is not running anywhere'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -l dry-run -d 'Show what would be done; change nothing (no AWS mutation, no mkfs, no mount, no file written)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -s v -l verbose -d 'More log detail (repeat for more)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -s q -l quiet -d 'Less log detail (repeat for less)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "prepare" -d 'Decide bootstrap / join / restart and write the env file (ExecStartPre= of etcd.service)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "promote" -d 'Promote this member from learner to voting member once it has caught up (ExecStartPost= of etcd.service)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "leave" -d 'Leave the cluster when the group terminates this instance: hand over leadership, remove this member while quorum and --min-voting allow, move the data aside (ExecStop= of mooring-etcd-leave.service)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "tidy" -d 'On the leader only: remove one member whose instance is proven gone or that never started (etcd-member-tidy.timer)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "snapshot" -d 'On the leader only: stream a snapshot to S3 when the store moved since the newest one, keep --retain (etcd-member-snapshot.timer)'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "snapshots" -d 'List this cluster\'s snapshots in S3, newest first'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "restore" -d 'By hand: bootstrap this instance from a chosen snapshot (run on every initial member with the same --from), with prepare\'s checks'
complete -c etcd-member-prepare -n "__fish_etcd_member_prepare_using_subcommand help; and not __fish_seen_subcommand_from prepare promote leave tidy snapshot snapshots restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

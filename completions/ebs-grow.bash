_ebs__grow() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="ebs__grow"
                ;;
            ebs__grow,check)
                cmd="ebs__grow__subcmd__check"
                ;;
            ebs__grow,help)
                cmd="ebs__grow__subcmd__help"
                ;;
            ebs__grow,init)
                cmd="ebs__grow__subcmd__init"
                ;;
            ebs__grow,status)
                cmd="ebs__grow__subcmd__status"
                ;;
            ebs__grow,teardown)
                cmd="ebs__grow__subcmd__teardown"
                ;;
            ebs__grow__subcmd__help,check)
                cmd="ebs__grow__subcmd__help__subcmd__check"
                ;;
            ebs__grow__subcmd__help,help)
                cmd="ebs__grow__subcmd__help__subcmd__help"
                ;;
            ebs__grow__subcmd__help,init)
                cmd="ebs__grow__subcmd__help__subcmd__init"
                ;;
            ebs__grow__subcmd__help,status)
                cmd="ebs__grow__subcmd__help__subcmd__status"
                ;;
            ebs__grow__subcmd__help,teardown)
                cmd="ebs__grow__subcmd__help__subcmd__teardown"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        ebs__grow)
            opts="-v -q -h -V --dry-run --output --region --timeout --run-dir --verbose --quiet --sys-block-dir --dev-dir --by-id-dir --help --version init check status teardown help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --output)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --region)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --run-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sys-block-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --by-id-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__check)
            opts="-m -v -q -h --mountpoint --config --fs --strategy --initial-device --initial-size-gib --volume-type --iops --throughput --encrypted --kms-key-id --max-volumes --max-total-size-gib --max-volume-size-gib --attachment-limit --used-percent --min-free-gib --min-free-inodes-percent --interval-seconds --growth-seconds --balance-metadata --fstab --state-dir --tag --dry-run --output --region --timeout --run-dir --verbose --quiet --sys-block-dir --dev-dir --by-id-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mountpoint)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fs)
                    COMPREPLY=($(compgen -W "btrfs lvm.ext4 xfs ext4" -- "${cur}"))
                    return 0
                    ;;
                --strategy)
                    COMPREPLY=($(compgen -W "add modify" -- "${cur}"))
                    return 0
                    ;;
                --initial-device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --initial-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --volume-type)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iops)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --throughput)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --encrypted)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --kms-key-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volumes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-total-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volume-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --attachment-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --used-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-inodes-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interval-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --growth-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --balance-metadata)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --fstab)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --state-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --region)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --run-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sys-block-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --by-id-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__help)
            opts="init check status teardown help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__help__subcmd__check)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__help__subcmd__init)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__help__subcmd__status)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__help__subcmd__teardown)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__init)
            opts="-m -v -q -h --mountpoint --config --fs --strategy --initial-device --initial-size-gib --volume-type --iops --throughput --encrypted --kms-key-id --max-volumes --max-total-size-gib --max-volume-size-gib --attachment-limit --used-percent --min-free-gib --min-free-inodes-percent --interval-seconds --growth-seconds --balance-metadata --fstab --state-dir --tag --dry-run --output --region --timeout --run-dir --verbose --quiet --sys-block-dir --dev-dir --by-id-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mountpoint)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fs)
                    COMPREPLY=($(compgen -W "btrfs lvm.ext4 xfs ext4" -- "${cur}"))
                    return 0
                    ;;
                --strategy)
                    COMPREPLY=($(compgen -W "add modify" -- "${cur}"))
                    return 0
                    ;;
                --initial-device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --initial-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --volume-type)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iops)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --throughput)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --encrypted)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --kms-key-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volumes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-total-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volume-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --attachment-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --used-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-inodes-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interval-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --growth-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --balance-metadata)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --fstab)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --state-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --region)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --run-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sys-block-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --by-id-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__status)
            opts="-m -v -q -h --mountpoint --config --fs --strategy --initial-device --initial-size-gib --volume-type --iops --throughput --encrypted --kms-key-id --max-volumes --max-total-size-gib --max-volume-size-gib --attachment-limit --used-percent --min-free-gib --min-free-inodes-percent --interval-seconds --growth-seconds --balance-metadata --fstab --state-dir --tag --dry-run --output --region --timeout --run-dir --verbose --quiet --sys-block-dir --dev-dir --by-id-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mountpoint)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fs)
                    COMPREPLY=($(compgen -W "btrfs lvm.ext4 xfs ext4" -- "${cur}"))
                    return 0
                    ;;
                --strategy)
                    COMPREPLY=($(compgen -W "add modify" -- "${cur}"))
                    return 0
                    ;;
                --initial-device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --initial-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --volume-type)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iops)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --throughput)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --encrypted)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --kms-key-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volumes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-total-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volume-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --attachment-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --used-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-inodes-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interval-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --growth-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --balance-metadata)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --fstab)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --state-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --region)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --run-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sys-block-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --by-id-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ebs__subcmd__grow__subcmd__teardown)
            opts="-m -v -q -h --mountpoint --config --fs --strategy --initial-device --initial-size-gib --volume-type --iops --throughput --encrypted --kms-key-id --max-volumes --max-total-size-gib --max-volume-size-gib --attachment-limit --used-percent --min-free-gib --min-free-inodes-percent --interval-seconds --growth-seconds --balance-metadata --fstab --state-dir --tag --yes --dry-run --output --region --timeout --run-dir --verbose --quiet --sys-block-dir --dev-dir --by-id-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mountpoint)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fs)
                    COMPREPLY=($(compgen -W "btrfs lvm.ext4 xfs ext4" -- "${cur}"))
                    return 0
                    ;;
                --strategy)
                    COMPREPLY=($(compgen -W "add modify" -- "${cur}"))
                    return 0
                    ;;
                --initial-device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --initial-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --volume-type)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iops)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --throughput)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --encrypted)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --kms-key-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volumes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-total-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-volume-size-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --attachment-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --used-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-gib)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-free-inodes-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interval-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --growth-seconds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --balance-metadata)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --fstab)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --state-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --region)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --run-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sys-block-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --by-id-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _ebs__grow -o nosort -o bashdefault -o default ebs-grow
else
    complete -F _ebs__grow -o bashdefault -o default ebs-grow
fi

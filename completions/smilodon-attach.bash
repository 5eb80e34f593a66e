_smilodon__attach() {
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
                cmd="smilodon__attach"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        smilodon__attach)
            opts="-v -q -h -V --dry-run --output --region --timeout --run-dir --verbose --quiet --sys-block-dir --dev-dir --by-id-dir --filters --filter --node-id-tag --mountpoint --mkfs --mount-options --owner --when-none --exec-condition --env-file --write-node-id --node-id-offset --attachment-limit --help --version"
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
                --filter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --filters)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --node-id-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mountpoint)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mkfs)
                    COMPREPLY=($(compgen -W "btrfs xfs ext4" -- "${cur}"))
                    return 0
                    ;;
                --mount-options)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --owner)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --when-none)
                    COMPREPLY=($(compgen -W "fail idle" -- "${cur}"))
                    return 0
                    ;;
                --env-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --write-node-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --node-id-offset)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --attachment-limit)
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
    complete -F _smilodon__attach -o nosort -o bashdefault -o default smilodon-attach
else
    complete -F _smilodon__attach -o bashdefault -o default smilodon-attach
fi

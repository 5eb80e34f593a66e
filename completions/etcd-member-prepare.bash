_etcd__member__prepare() {
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
                cmd="etcd__member__prepare"
                ;;
            etcd__member__prepare,help)
                cmd="etcd__member__prepare__subcmd__help"
                ;;
            etcd__member__prepare,prepare)
                cmd="etcd__member__prepare__subcmd__prepare"
                ;;
            etcd__member__prepare,promote)
                cmd="etcd__member__prepare__subcmd__promote"
                ;;
            etcd__member__prepare__subcmd__help,help)
                cmd="etcd__member__prepare__subcmd__help__subcmd__help"
                ;;
            etcd__member__prepare__subcmd__help,prepare)
                cmd="etcd__member__prepare__subcmd__help__subcmd__prepare"
                ;;
            etcd__member__prepare__subcmd__help,promote)
                cmd="etcd__member__prepare__subcmd__help__subcmd__promote"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        etcd__member__prepare)
            opts="-v -q -h -V --dry-run --output --region --timeout --run-dir --verbose --quiet --help --version prepare promote help"
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
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        etcd__subcmd__member__subcmd__prepare__subcmd__help)
            opts="prepare promote help"
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
        etcd__subcmd__member__subcmd__prepare__subcmd__help__subcmd__help)
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
        etcd__subcmd__member__subcmd__prepare__subcmd__help__subcmd__prepare)
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
        etcd__subcmd__member__subcmd__prepare__subcmd__help__subcmd__promote)
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
        etcd__subcmd__member__subcmd__prepare__subcmd__prepare)
            opts="-v -q -h --peers --cluster-tag --cluster --filter --initial-size --data-dir --write-data-dir --env-file --peer-scheme --client-scheme --scheme-tag --peer-port --client-port --cacert --cert --key --learner --dry-run --output --region --timeout --run-dir --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --peers)
                    COMPREPLY=($(compgen -W "tag asg" -- "${cur}"))
                    return 0
                    ;;
                --cluster-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --filter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --initial-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --data-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --env-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-scheme)
                    COMPREPLY=($(compgen -W "http https" -- "${cur}"))
                    return 0
                    ;;
                --client-scheme)
                    COMPREPLY=($(compgen -W "http https" -- "${cur}"))
                    return 0
                    ;;
                --scheme-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --client-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cacert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --learner)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
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
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        etcd__subcmd__member__subcmd__prepare__subcmd__promote)
            opts="-v -q -h --peers --cluster-tag --cluster --filter --initial-size --data-dir --write-data-dir --env-file --peer-scheme --client-scheme --scheme-tag --peer-port --client-port --cacert --cert --key --learner --dry-run --output --region --timeout --run-dir --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --peers)
                    COMPREPLY=($(compgen -W "tag asg" -- "${cur}"))
                    return 0
                    ;;
                --cluster-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --filter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --initial-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --data-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --env-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-scheme)
                    COMPREPLY=($(compgen -W "http https" -- "${cur}"))
                    return 0
                    ;;
                --client-scheme)
                    COMPREPLY=($(compgen -W "http https" -- "${cur}"))
                    return 0
                    ;;
                --scheme-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --client-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cacert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --learner)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
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
    complete -F _etcd__member__prepare -o nosort -o bashdefault -o default etcd-member-prepare
else
    complete -F _etcd__member__prepare -o bashdefault -o default etcd-member-prepare
fi

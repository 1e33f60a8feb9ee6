# bash completion for tcpdp (installed as share/bash-completion/completions/tcpdp)
_tcpdp() {
  local cur prev words cword
  _init_completion || return
  local commands="read probe proxy audit config digest pg-schema records version"
  local cmd=""
  local i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      read | probe | proxy | audit | config | digest | pg-schema | records | version) cmd=${words[i]}; break ;;
    esac
  done
  case $prev in
    -d | --dumper) COMPREPLY=($(compgen -W "hex pg mysql conn auto" -- "$cur")); return ;;
    -f | --format) COMPREPLY=($(compgen -W "json ltsv console" -- "$cur")); return ;;
    --digest-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    -c | --config) _filedir toml; return ;;
    -i | --interface) COMPREPLY=($(compgen -W "any $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
    -s | --snapshot-length) COMPREPLY=($(compgen -W "auto" -- "$cur")); return ;;
    -Z | --relinquish-privileges) COMPREPLY=($(compgen -u -- "$cur")); return ;;
    -l | --listen | -r | --remote | -t | --target | --idle-timeout | --max-connections | -B | --buffer-size | --filter | --workers | --pg | --schema | --top | --digest-max-classes | --digest-interval) return ;;
  esac
  case $cmd in
    "") COMPREPLY=($(compgen -W "$commands --help" -- "$cur")) ;;
    read)
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "-d --dumper -t --target -f --format -c --config --no-response
          --conn --processes --proxy-protocol --idle-timeout --max-connections --pg --pg-dumps --digest
          --top --digest-format --digest-max-classes -q --quiet --stats --help" -- "$cur"))
      else
        _filedir '@(pcap|pcapng|cap)'
      fi
      ;;
    probe)
      COMPREPLY=($(compgen -W "-i --interface -t --target -d --dumper -B --buffer-size
        -s --snapshot-length --filter --immediate-mode --promisc --workers -Z
        --relinquish-privileges --proxy-protocol --stdout --no-response --pg --pg-dumps
        --digest-interval --digest-max-classes -c --config --help" -- "$cur"))
      ;;
    proxy)
      COMPREPLY=($(compgen -W "-l --listen -r --remote -d --dumper -s --use-server-starter
        --workers --proxy-protocol --proxy-protocol-forward --stdout --no-response --pg --pg-dumps
        --digest-interval --digest-max-classes -c --config --help" -- "$cur"))
      ;;
    audit) COMPREPLY=($(compgen -W "-t --target -B --buffer-size --stdout --pg -c --config --help" -- "$cur")) ;;
    config) COMPREPLY=($(compgen -W "-c --config --default -d --dumper --help" -- "$cur")) ;;
    digest)
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--top --digest-format --digest-max-classes --help" -- "$cur"))
      else
        _filedir
      fi
      ;;
    pg-schema) COMPREPLY=($(compgen -W "--schema -c --config --help" -- "$cur")) ;;
    records)
      COMPREPLY=($(compgen -W "-f --format hex gap pg mysql decode_error encrypted state summary digest log
        --help" -- "$cur"))
      ;;
  esac
}
complete -F _tcpdp tcpdp

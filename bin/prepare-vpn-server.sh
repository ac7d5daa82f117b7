#!/bin/sh
# Prepares an OpenVPN server for vpnwatch: a monitoring account that can only read the status file
# over SFTP and reach the management interface through SSH. Run it as root ON THE VPN SERVER
# (README "Preparing a VPN server"; test/prepare-server.test.ts runs it as the README shows it):
#
#   sh prepare-vpn-server.sh --pubkey vpnwatch_ed25519.pub \
#     --status-file /run/openvpn-server/status-server.log --management-port 7505
#
# Options: --user NAME (default vpnwatch), --management-port PORT (leave out for no kicks and no
# live notices), --sshd-config FILE (default /etc/ssh/sshd_config). Each step prints what it runs.
# Running it again is safe: it leaves what is right as it is and replaces its own sshd block.
# Needs: useradd/usermod (passwd), setfacl (apt install acl), sshd, ssh-keygen.
set -eu

user=vpnwatch
pubkey=
status_file=
management_port=
sshd_config=/etc/ssh/sshd_config

die() { printf 'prepare-vpn-server: %s\n' "$*" >&2; exit 1; }
step() { printf '+ %s\n' "$*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --user) user=${2:?--user needs a name}; shift 2 ;;
    --pubkey) pubkey=${2:?--pubkey needs a file}; shift 2 ;;
    --status-file) status_file=${2:?--status-file needs a path}; shift 2 ;;
    --management-port) management_port=${2:?--management-port needs a port}; shift 2 ;;
    --sshd-config) sshd_config=${2:?--sshd-config needs a file}; shift 2 ;;
    *) die "unknown option $1 (see the top of this script)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die 'run it as root on the VPN server'
[ -n "$pubkey" ] && [ -r "$pubkey" ] || die "--pubkey: no readable public key file '$pubkey' (make one with: ssh-keygen -t ed25519 -N '' -C vpnwatch -f vpnwatch_ed25519)"
[ -n "$status_file" ] || die '--status-file: the file on the "status" line of the OpenVPN config'
[ -f "$status_file" ] || die "--status-file: no file at $status_file; start OpenVPN first (it creates the file), or give the path on its \"status\" line"
case "$user" in *[!a-z0-9_-]* | '' | -*) die "--user: '$user' is not a plain account name" ;; esac
case "$management_port" in *[!0-9]*) die "--management-port: '$management_port' is not a port number" ;; esac
command -v setfacl >/dev/null 2>&1 || die 'setfacl not found: apt install acl'
[ -f "$sshd_config" ] || die "--sshd-config: no file at $sshd_config"

# 1. The account: a system user without a login shell. SFTP and port forwarding work without one,
# because the Match block below makes sshd run its own SFTP server (ForceCommand internal-sftp)
# instead of handing the request to the shell, which nologin refuses.
if ! id "$user" >/dev/null 2>&1; then
  step "useradd -r -m -s /usr/sbin/nologin $user"
  useradd -r -m -s /usr/sbin/nologin "$user"
fi
# useradd -r locks the password ("!"); an sshd without PAM refuses a locked account even with a
# key. "*" means "no password" without locking it.
step "usermod -p '*' $user"
usermod -p '*' "$user"

# 2. The key, as sshd's StrictModes wants it: owned by the account, ~/.ssh 700, the file 600.
home=$(getent passwd "$user" | cut -d: -f6)
group=$(id -gn "$user")
key=$(grep -v '^[[:space:]]*$' "$pubkey" | head -n 1)
case "$key" in ssh-* | ecdsa-* | sk-*) ;; *) die "--pubkey: $pubkey does not look like an OpenSSH public key (the .pub file)" ;; esac
step "install -d -m 700 -o $user -g $group $home/.ssh"
install -d -m 700 -o "$user" -g "$group" "$home/.ssh"
keys="$home/.ssh/authorized_keys"
touch "$keys"
if grep -qxF "$key" "$keys"; then
  step "the key is already in $keys"
else
  step "append $pubkey to $keys"
  printf '%s\n' "$key" >>"$keys"
fi
step "chown $user:$group $keys && chmod 600 $keys"
chown "$user:$group" "$keys"
chmod 600 "$keys"

# 3. Read access to the status file. OpenVPN creates it 0600 root, so group membership or a default
# ACL on the folder is masked out; an ACL entry on the file itself works, and OpenVPN keeps it (it
# rewrites the file in place). The folder needs x (enter) for the account.
status_dir=$(dirname "$status_file")
step "setfacl -m u:$user:x $status_dir"
setfacl -m "u:$user:x" "$status_dir"
step "setfacl -m u:$user:r $status_file"
setfacl -m "u:$user:r" "$status_file"

# 4. sshd: a Match block for the account, at the end of the file (a Match block runs to the end of
# the file or the next Match). It replaces the block an earlier run wrote.
begin="# BEGIN vpnwatch $user (prepare-vpn-server.sh)"
end="# END vpnwatch $user"
if [ -n "$management_port" ]; then
  # PermitOpen compares host names literally: vpnwatch's management.host must be 127.0.0.1 too.
  forwarding="    AllowTcpForwarding local
    PermitOpen 127.0.0.1:$management_port"
else
  forwarding="    AllowTcpForwarding no"
fi
backup="$sshd_config.before-vpnwatch"
step "cp $sshd_config $backup"
cp -p "$sshd_config" "$backup"
kept=$(awk -v begin="$begin" -v end="$end" '$0 == begin { skip = 1 } !skip { print } $0 == end { skip = 0 }' "$backup")
step "write the \"Match User $user\" block at the end of $sshd_config"
cat >"$sshd_config" <<EOF
$kept

$begin
Match User $user
    ForceCommand internal-sftp
$forwarding
    AllowStreamLocalForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTTY no
$end
EOF
step "sshd -t -f $sshd_config"
if ! /usr/sbin/sshd -t -f "$sshd_config"; then
  cp -p "$backup" "$sshd_config"
  die "sshd -t refused the new config; $sshd_config is back as it was"
fi
settings=$(/usr/sbin/sshd -T -f "$sshd_config")
printf '%s\n' "$settings" | grep -q '^subsystem sftp ' ||
  die "sshd has no SFTP subsystem: add \"Subsystem sftp internal-sftp\" to the global part of $sshd_config and run this again"

# Reload: SIGHUP makes sshd re-read its config (what systemctl reload ssh does); open sessions stay.
pidfile=$(printf '%s\n' "$settings" | awk '$1 == "pidfile" { print $2 }')
pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  step "kill -HUP $pid   # reload sshd ($pidfile)"
  kill -HUP "$pid"
else
  printf 'prepare-vpn-server: sshd is not running (no process in %s); start it to use the new settings\n' "$pidfile" >&2
fi

# 5. What goes into vpnwatch's servers.yml for this server.
printf '\nFor servers.yml (compare the key with what vpnwatch check shows):\n'
printf '    username: %s\n' "$user"
printf '    statusPath: %s\n' "$status_file"
# The key vpnwatch is offered: it asks for ED25519 first, then ECDSA, then RSA.
fingerprint=
for type in ED25519 ECDSA RSA; do
  for host_key in $(printf '%s\n' "$settings" | awk '$1 == "hostkey" { print $2 }'); do
    # `256 SHA256:... root@host (ED25519)`: the second word goes into hostKey.
    line=$(ssh-keygen -lf "$host_key.pub" 2>/dev/null || true)
    case "$line" in *"($type)") fingerprint=$(printf '%s\n' "$line" | awk '{ print $2 }'); break 2 ;; esac
  done
done
printf '    hostKey: %s\n' "${fingerprint:-(run ssh-keygen -lf on the host key named in $sshd_config)}"
if [ -n "$management_port" ]; then
  printf '    management: { host: 127.0.0.1, port: %s }\n' "$management_port"
fi

#!/usr/bin/env bash
# Installs what the Pester suite (tests/ps/Invoke-Tests.ps1) needs, idempotently:
#   - PowerShell 7.6.10 as a .NET global tool (pwsh lands in ~/.dotnet/tools).
#     7.6.10 is pinned on purpose: 7.7.0 fails to install on this kind of machine.
#   - Pester 5.7.1 from NuGet, restored through a throwaway project into
#     .tools/nuget, and exposed as .tools/pwsh-modules/Pester (a module folder
#     Invoke-Tests.ps1 imports from, or that can be put on PSModulePath).
# Used by CI (.ci/run) and by developers: `bash .ci/install-powershell.sh`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pwsh_version="7.6.10"
pester_version="5.7.1"
tools_dir="${HOME}/.dotnet/tools"
nuget_dir="${root}/.tools/nuget"
modules_dir="${root}/.tools/pwsh-modules"

log() { printf '[install-powershell] %s\n' "$*"; }

if ! command -v dotnet >/dev/null 2>&1; then
  log "dotnet not found: install the .NET SDK first (PowerShell is installed as a dotnet tool)" >&2
  exit 1
fi

# Quieter, offline-friendly dotnet.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --- PowerShell -------------------------------------------------------------
installed_version=""
if [ -x "${tools_dir}/pwsh" ]; then
  installed_version="$(dotnet tool list --global | awk 'tolower($1)=="powershell" {print $2}')"
fi
if [ "${installed_version}" = "${pwsh_version}" ]; then
  log "PowerShell ${pwsh_version} already installed (${tools_dir}/pwsh)"
elif [ -n "${installed_version}" ]; then
  log "PowerShell ${installed_version} found; moving to ${pwsh_version}"
  dotnet tool update --global PowerShell --version "${pwsh_version}"
else
  log "installing PowerShell ${pwsh_version} (dotnet tool)"
  dotnet tool install --global PowerShell --version "${pwsh_version}"
fi

# --- Pester -----------------------------------------------------------------
pester_module="${modules_dir}/Pester"
if [ -f "${pester_module}/Pester.psd1" ] && grep -q "ModuleVersion *= *'${pester_version}'" "${pester_module}/Pester.psd1"; then
  log "Pester ${pester_version} already present (${pester_module})"
else
  log "restoring Pester ${pester_version} from NuGet into ${nuget_dir}"
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  # A throwaway project whose only purpose is to make NuGet download the package.
  cat > "${work}/restore-pester.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>netstandard2.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Pester" Version="${pester_version}" />
  </ItemGroup>
</Project>
CSPROJ
  mkdir -p "${nuget_dir}"
  dotnet restore "${work}/restore-pester.csproj" --packages "${nuget_dir}" --verbosity quiet
  package_dir="${nuget_dir}/pester/${pester_version}"
  # The NuGet package carries the module either at its root or under tools/.
  psd1="$(find "${package_dir}" -name Pester.psd1 -print | head -n 1)"
  if [ -z "${psd1}" ]; then
    log "Pester.psd1 not found in ${package_dir}: the package layout changed" >&2
    exit 1
  fi
  mkdir -p "${modules_dir}"
  rm -rf "${pester_module}"
  # A link (not a copy) keeps the module where NuGet put it; a folder named
  # Pester makes `Import-Module <modules_dir>/Pester` and PSModulePath work.
  ln -sfn "$(realpath --relative-to="${modules_dir}" "$(dirname "${psd1}")")" "${pester_module}"
  log "Pester ${pester_version} exposed at ${pester_module}"
fi

"${tools_dir}/pwsh" -NoProfile -NonInteractive -Command \
  "\$m = Import-Module '${pester_module}/Pester.psd1' -PassThru -ErrorAction Stop; Write-Output ('[install-powershell] pwsh ' + \$PSVersionTable.PSVersion + ', Pester ' + \$m.Version)"

# Sourced by the other scripts: lets Open MPI run as root (containers, CI) and sizes a local run.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Local run: one driver rank plus one worker rank per core; more ranks than cores needs
# --oversubscribe (which also makes Open MPI yield when idle).
mpiray_local_np() { echo $(( $(nproc) + 1 )); }
mpiray_mpirun_flags() {
  local np="$1"
  if (( np > $(nproc) )); then echo "--oversubscribe"; fi
}

#if canImport(Glibc)
import Glibc
#endif
import MeshCLIKit

exit(MeshctlCommand.main(Array(CommandLine.arguments.dropFirst())))

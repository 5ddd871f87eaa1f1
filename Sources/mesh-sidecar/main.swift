#if canImport(Glibc)
import Glibc
#endif
import SidecarKit

exit(SidecarCommand.main(Array(CommandLine.arguments.dropFirst())))

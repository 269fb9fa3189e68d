package io.zstate;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.equivalentTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.zstate.pagestore.snapshot.FrozenView;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of the state backend, as rules over its bytecode (ArchUnit, as Flink's own
 * architecture tests do). Java has no subpackage visibility, so these rules are what keeps the
 * layers apart:
 *
 * <pre>
 *   io.zstate.flink..               may use the page store's API only: io.zstate.pagestore
 *                                   (PageStore, its config, stats, ValueView, EntryVisitor, ...)
 *                                   and pagestore.snapshot.FrozenView (with its Batches)
 *   io.zstate.pagestore (facade)    may use every pagestore layer; never Flink's state API
 *   pagestore.entry                 may use layout and index.Hashing (one hash): the entry cache
 *                                   knows no tier and no snapshot
 *   pagestore.snapshot              may use index (the walker), tier (frozen pages), layout
 *   pagestore.index                 may use tier (the pager) and layout
 *   pagestore.tier                  may use layout and the allocator
 *   pagestore.layout                uses nothing of zstate: it is where bytes are laid out
 *   subpackages of pagestore        may use of the facade package only its API types, never
 *                                   PageStore itself
 *   no page offsets outside pagestore.layout: only layout makes byte-array views
 * </pre>
 *
 * <p>The allocator's own surface (FrameSource's raw frame accessors package-private, the pools'
 * implementations behind ZPool) is kept by the compiler: they are package-private there.
 */
class LayeringTest {

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.zstate");
    }

    @Test
    void theFlinkLayerUsesOnlyThePageStoresApi() {
        noClasses().that().resideInAPackage("io.zstate.flink..")
                .should().dependOnClassesThat(resideInAnyPackage(
                                "io.zstate.pagestore.index..", "io.zstate.pagestore.tier..", "io.zstate.pagestore.layout..",
                                "io.zstate.pagestore.snapshot..")
                        .and(not(equivalentTo(FrozenView.class)))
                        .and(not(equivalentTo(FrozenView.Batches.class))))
                .check(classes);
    }

    @Test
    void thePageStoreDoesNotKnowFlinksStateApi() {
        noClasses().that().resideInAPackage("io.zstate.pagestore..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.zstate.flink..", "org.apache.flink.runtime.state..", "org.apache.flink.api.common.state..")
                .check(classes);
    }

    @Test
    void layoutDependsOnNothingOfZstate() {
        noClasses().that().resideInAPackage("io.zstate.pagestore.layout..")
                .should().dependOnClassesThat(resideInAPackage("io.zstate..")
                        .and(not(resideInAPackage("io.zstate.pagestore.layout.."))))
                .check(classes);
    }

    @Test
    void tierUsesOnlyLayoutAndTheAllocator() {
        noClasses().that().resideInAPackage("io.zstate.pagestore.tier..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.zstate.pagestore.index..", "io.zstate.pagestore.snapshot..", "io.zstate.flink..")
                .check(classes);
    }

    @Test
    void entryCacheKnowsNoTierNorSnapshotAndNoIndexButItsHash() {
        noClasses().that().resideInAPackage("io.zstate.pagestore.entry..")
                .should().dependOnClassesThat(resideInAnyPackage(
                                "io.zstate.pagestore.tier..", "io.zstate.pagestore.snapshot..", "io.zstate.flink..",
                                "io.zstate.pagestore.index..")
                        .and(not(com.tngtech.archunit.core.domain.JavaClass.Predicates.equivalentTo(
                                io.zstate.pagestore.index.Hashing.class))))
                .check(classes);
    }

    @Test
    void indexDoesNotKnowSnapshots() {
        noClasses().that().resideInAPackage("io.zstate.pagestore.index..")
                .should().dependOnClassesThat().resideInAnyPackage("io.zstate.pagestore.snapshot..")
                .check(classes);
    }

    @Test
    void subpackagesUseOnlyTheApiTypesOfTheFacadePackage() {
        noClasses().that().resideInAnyPackage("io.zstate.pagestore.*..")
                .should().dependOnClassesThat().belongToAnyOf(io.zstate.pagestore.PageStore.class)
                .check(classes);
    }

    @Test
    void onlyTheLayoutPackageMakesByteArrayViews() {
        noClasses().that().resideOutsideOfPackage("io.zstate.pagestore.layout..")
                .and().resideInAPackage("io.zstate.pagestore..")
                .should().callMethod(java.lang.invoke.MethodHandles.class, "byteArrayViewVarHandle",
                        Class.class, java.nio.ByteOrder.class)
                .check(classes);
    }

    @Test
    void theStateClassesArePackagePrivate() {
        classes().that().resideInAPackage("io.zstate.flink..")
                .and().areAssignableTo(org.apache.flink.api.common.state.State.class)
                .should().notBePublic()
                .check(classes);
    }
}

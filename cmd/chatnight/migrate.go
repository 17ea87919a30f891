package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/schema"
)

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("migrate", "migrate [--cluster NAME [--print]] [flags]", stdout, &o, flagsClickHouse|flagsEmbedded)
	cluster := fs.String("cluster", "", "create the schema ON CLUSTER NAME: Replicated local tables and Distributed tables named like the single-node ones (needs --clickhouse-dsn)")
	print := fs.Bool("print", false, "with --cluster: print the cluster DDL instead of running it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *print && *cluster == "" {
		return errors.New("--print shows the cluster DDL: give --cluster NAME too")
	}
	if *cluster != "" {
		return migrateCluster(ctx, &o, *cluster, *print, stdout, stderr)
	}
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	st := newStack(log)
	defer st.close()
	if err := st.connectClickHouse(ctx, &o); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrate: schema is up to date")
	return nil
}

func migrateCluster(ctx context.Context, o *Options, cluster string, print bool, stdout, stderr io.Writer) error {
	if print {
		ddl, err := schema.PrintCluster(cluster)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, ddl)
		return err
	}
	if o.ClickHouseDSN == "" {
		return errors.New("--cluster needs a ClickHouse cluster: set --clickhouse-dsn (the embedded engine is a single node)")
	}
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	conn, err := storage.Open(ctx, o.ClickHouseDSN)
	if err != nil {
		return err
	}
	defer conn.Close()
	applied, err := schema.MigrateCluster(ctx, conn, cluster)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cluster, err)
	}
	log.Info("cluster schema migrated", "cluster", cluster, "applied", applied)
	fmt.Fprintf(stdout, "migrate: cluster %s schema is up to date\n", cluster)
	return nil
}
